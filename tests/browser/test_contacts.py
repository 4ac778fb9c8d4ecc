"""Contacts in the browser: the list, a contact with its consent record, and the import report,
at 390 px and 1280 px without sideways scrolling and with tappable controls; a contact added in
the browser names its number in the Messages list."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from contacts.models import Contact, ContactImport, ContactTag
from messaging.models import ConsentEvent, Direction, Message, Status
from tests.browser import test_accessibility as a11y
from tests.browser import test_layout as layout
from tests.browser.conftest import screenshot, sign_in
from tests.conftest import make_user

pytestmark = pytest.mark.browser
axe_page = a11y.axe_page

CUSTOMER = "12125550142"
OUR_DID = "15162065575"
IMPORT = (
    "Phone,Name,Company,Tags,Consent Source,Consent Date,A very long free-form column name\n"
    "+1 (516) 206-5575,Ann Lee,Acme Incorporated International Holdings,vip;wholesale,web form,"
    "2026-01-05," + "x" * 120 + "\n"
    "5162065575,Ann again,,,,,\n"
    ",Nobody,,,,,\n"
    "not a phone,Bad,,,,,\n"
    "212-555-0199,Bob,,,signup,someday,\n"
).encode()


@pytest.fixture
def contacts_world(transactional_db):
    stop = Message.objects.create(
        our_number=OUR_DID,
        their_number=CUSTOMER,
        body="STOP",
        direction=Direction.INBOUND,
        status=Status.RECEIVED,
    )
    ann = Contact.objects.create(
        number="15162065575",
        name="Ann Lee with a rather long name for a phone screen",
        company="Acme Incorporated International Holdings",
        notes="Prefers texts in the morning",
        fields={"Account": "10442", "A long field name for a narrow screen": "y" * 80},
    )
    for tag in ("vip", "wholesale", "a-very-long-tag-that-might-not-wrap"):
        ContactTag.objects.create(contact=ann, name=tag)
    bob = Contact.objects.create(number=CUSTOMER, name="Bob")
    ConsentEvent.objects.create(
        customer_number=CUSTOMER,
        our_number=OUR_DID,
        kind="opt_out",
        method="keyword",
        detail="STOP",
        consented_at=stop.created_at,
        message=stop,
    )
    ConsentEvent.objects.create(
        customer_number=CUSTOMER,
        kind="opt_in",
        method="import",
        detail="web form " + "z" * 200,
        consented_at=timezone.now(),
    )
    return {"ann": ann, "bob": bob}


@pytest.mark.parametrize("viewport", [layout.PHONE, layout.DESKTOP], ids=["phone", "desktop"])
def test_the_contacts_pages_fit_both_widths(page, live_server, contacts_world, worker, viewport):
    page.set_viewport_size(viewport)
    sign_in(page, make_user("ines", "Inbox staff"), then=reverse("contacts:list"))
    expect(page.get_by_role("heading", name="Contacts")).to_be_visible()
    expect(page.get_by_role("link", name="Bob")).to_be_visible()
    phone = viewport == layout.PHONE
    layout.assert_fits(page, "contacts list")
    if phone:
        layout.assert_tappable(page, "contacts list")

    page.goto(reverse("contacts:detail", args=[contacts_world["bob"].pk]))
    expect(page.get_by_role("heading", name="Consent record")).to_be_visible()
    expect(page.locator("table.consent tbody tr")).to_have_count(2)
    layout.assert_fits(page, "contact")

    page.goto(reverse("contacts:detail", args=[contacts_world["ann"].pk]))
    layout.assert_fits(page, "long contact")
    if phone:
        layout.assert_tappable(page, "long contact")
        screenshot(page, "contact-phone.png")

    running = ContactImport.objects.create(
        filename="a-very-long-file-name-from-a-spreadsheet-export-2026-11-29.csv",
        state="running",
        rows_total=20_000,
        rows_read=7_500,
        started_at=timezone.now(),
    )
    page.goto(reverse("contacts:import_report", args=[running.pk]))
    expect(page.locator("#import-bar")).to_have_attribute("value", "7500")
    layout.assert_fits(page, "import in progress")

    page.goto(reverse("contacts:import"))
    page.get_by_label("CSV file").set_input_files(
        {"name": "contacts.csv", "mimeType": "text/csv", "buffer": IMPORT}
    )
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_role("status").filter(has_text="created")).to_contain_text(
        "0 created, 1 updated, 0 unchanged, 4 skipped."
    )
    expect(page.locator("table.report tbody tr")).to_have_count(5)
    expect(page.locator("table.report")).to_contain_text("duplicate of row 1")
    layout.assert_fits(page, "import report")
    if phone:
        screenshot(page, "contacts-import-phone.png")


def test_a_contact_added_in_the_browser_names_its_number_in_the_messages_list(
    page, live_server, transactional_db
):
    Message.objects.create(
        our_number=OUR_DID,
        their_number=CUSTOMER,
        body="Is my order ready?",
        direction=Direction.INBOUND,
        status=Status.RECEIVED,
    )
    sign_in(page, make_user("ines", "Inbox staff"), then=reverse("messaging:messages"))
    row = page.locator("table.messages tbody tr").first
    expect(row).to_contain_text("+1 212-555-0142")
    expect(row).not_to_contain_text("Bob Stone")

    page.goto(reverse("contacts:new") + f"?number={CUSTOMER}")
    expect(page.get_by_label("Number")).to_have_value("+1 212-555-0142")
    page.get_by_label("Name").fill("Bob Stone")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="Bob Stone")).to_be_visible()

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Messages").click()
    row = page.locator("table.messages tbody tr").first
    expect(row.locator(".contact-name")).to_have_text("Bob Stone")
    expect(row).to_contain_text("+1 212-555-0142")


@pytest.mark.parametrize("viewport", [layout.PHONE, layout.DESKTOP], ids=["phone", "desktop"])
def test_axe_finds_nothing_serious_on_the_contacts_pages(
    axe_page, live_server, contacts_world, worker, viewport
):
    axe_page.set_viewport_size(viewport)
    sign_in(axe_page, make_user("ines", "Inbox staff"), then=reverse("contacts:list"))
    findings = {"contacts list": a11y.axe_findings(axe_page)}
    for key in ("ann", "bob"):
        axe_page.goto(reverse("contacts:detail", args=[contacts_world[key].pk]))
        findings[key] = a11y.axe_findings(axe_page)
    axe_page.goto(reverse("contacts:new"))
    axe_page.get_by_role("button", name="Save").click()  # the refused form, errors shown
    findings["refused new contact"] = a11y.axe_findings(axe_page)
    axe_page.goto(reverse("contacts:import"))
    axe_page.get_by_label("CSV file").set_input_files(
        {"name": "contacts.csv", "mimeType": "text/csv", "buffer": IMPORT}
    )
    axe_page.get_by_role("button", name="Import").click()
    expect(axe_page.get_by_role("heading", name="Import report")).to_be_visible()
    findings["import report"] = a11y.axe_findings(axe_page)
    assert {page: found for page, found in findings.items() if found} == {}
