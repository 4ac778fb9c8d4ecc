"""Saved replies and Send later in a browser (issue 15): every new page and the composers with a
saved reply and a scheduled message, for every role at 390 and 1280 px (fits, tappable, CSP,
axe), and the picker and Send later used as staff use them, with and without htmx.

With SCREENSHOTS=1 it saves screenshots of the picker, Send later and a scheduled message to
docs/screenshots/.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Page, expect

from messaging.models import Message, SavedReply, Status
from messaging.services.outbound import message_send
from sms_segments import count_segments
from tests.browser import test_layout as layout
from tests.browser.conftest import DEFAULT_TIMEOUT_MS, screenshot
from tests.browser.test_accessibility import axe_findings
from tests.conftest import make_user

pytestmark = pytest.mark.browser

CUSTOMER, OUR_DID = layout.CUSTOMER, layout.OUR_DID
PICKUP = "Hi {first_name}, your order {order} is ready for pickup at our Main Street store."


world = layout.world


@pytest.fixture
def issue15(world) -> dict:
    """test_layout's world, plus two saved replies (by their own author, not the roles tested)
    and a reply scheduled in its conversation."""
    author = make_user("sam-author", "Senders")
    reply = SavedReply.objects.create(name="Pickup ready", body=PICKUP, created_by=author)
    SavedReply.objects.create(
        name="Opening hours", body="We are open 9–5, Monday to Friday.", created_by=author
    )
    scheduled = message_send(
        from_number=OUR_DID,
        to=CUSTOMER,
        body="Your replacement ships tomorrow morning; we will text the tracking number.",
        send_at=timezone.now() + timedelta(days=1, hours=2),
    )
    return {"reply": reply, "scheduled": scheduled}


def may_send(role: layout.Role) -> bool:
    return role.sends or role.reads


def pages_for(role: layout.Role, world, issue15) -> list[tuple[str, int]]:
    reply, scheduled = issue15["reply"], issue15["scheduled"]
    ok = 200 if may_send(role) else 403
    pages = [
        (reverse("messaging:saved_replies"), ok),
        (reverse("messaging:saved_reply_new"), ok),
        # Only the author or an administrator may change it.
        (reverse("messaging:saved_reply_edit", args=[reply.pk]), 200 if role.staff else 403),
        (reverse("messaging:saved_reply_delete", args=[reply.pk]), 200 if role.staff else 403),
        (reverse("messaging:scheduled_edit", args=[scheduled.pk]), ok),
        (reverse("messaging:scheduled_cancel", args=[scheduled.pk]), ok),
    ]
    if role.sends:
        pages.append((reverse("messaging:send"), 200))
    if role.reads:
        pages += [
            (reverse("messaging:conversation", args=[CUSTOMER]), 200),
            (reverse("messaging:messages"), 200),
            (reverse("messaging:message", args=[scheduled.pk]), 200),
        ]
    return pages


@pytest.mark.parametrize("viewport", [layout.PHONE, layout.DESKTOP], ids=["phone", "desktop"])
@pytest.mark.parametrize("role", layout.ROLES, ids=[r.name for r in layout.ROLES])
def test_the_new_pages_fit_are_tappable_and_keep_the_csp_for_every_role(
    page, live_server, console_errors, world, issue15, role, viewport
):
    console_errors.expect("status of 403")
    page.set_viewport_size(viewport)
    layout.sign_in_as(page, live_server, role)
    for path, status in pages_for(role, world, issue15):
        response = page.goto(path)
        assert response.status == status, path
        expect(page.locator("main h1").first).to_be_visible()
        layout.assert_fits(page, path)
        layout.assert_no_csp_violation(console_errors, path)
        if viewport is layout.PHONE:
            layout.assert_tappable(page, path)
            details = page.locator("details.send-later")
            if details.count():
                details.locator("summary").click()  # open, its field and button must fit too
                layout.assert_fits(page, f"{path} (Send later open)")
                layout.assert_tappable(page, f"{path} (Send later open)")
        if status == 200 and "saved-replies" in path and role.sends:
            # Saved replies belong to the Messaging area (test_layout checks the whole nav).
            current = page.locator('#site-menu nav a[aria-current="page"]')
            expect(current).to_have_count(1)
            assert current.first.evaluate("(a) => a.firstChild.textContent.trim()") == "Messaging"
    # Nothing on these pages changed the message.
    assert Message.objects.get(pk=issue15["scheduled"].pk).status == Status.SCHEDULED


@pytest.fixture
def axe_page(browser, live_server) -> Iterator[Page]:
    context = browser.new_context(base_url=live_server.url, bypass_csp=True)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    yield context.new_page()
    context.close()


@pytest.mark.parametrize("viewport", [layout.PHONE, layout.DESKTOP], ids=["phone", "desktop"])
@pytest.mark.parametrize("role", layout.ROLES, ids=[r.name for r in layout.ROLES])
def test_axe_finds_nothing_serious_on_the_new_pages(
    axe_page, live_server, world, issue15, role, viewport
):
    page = axe_page
    page.set_viewport_size(viewport)
    layout.sign_in_as(page, live_server, role)
    found = {}
    for path, _status in pages_for(role, world, issue15):
        page.goto(path)
        details = page.locator("details.send-later")
        if details.count():
            details.locator("summary").click()
        if findings := axe_findings(page):
            found[path] = findings
    assert found == {}, "\n".join(f"{p}:\n  " + "\n  ".join(f) for p, f in found.items())


def test_a_saved_reply_goes_into_the_box_placeholders_block_send_and_send_later_schedules_it(
    page, live_server, console_errors, world, issue15
):
    console_errors.expect("status of 422")  # the refused send
    page.set_viewport_size(layout.PHONE)
    layout.sign_in_as(page, live_server, layout.ROLES[2])  # a sender
    page.goto(reverse("messaging:send"))
    page.get_by_label("From DID").select_option(OUR_DID)
    page.get_by_label("To DID").fill("+1 516-206-5591")
    box = page.locator("#id_message")
    page.get_by_label("Saved replies").select_option(label="Pickup ready")
    page.get_by_role("button", name="Insert").click()
    expect(box).to_have_value(PICKUP)
    # Its blanks are asked for under the box, the first one ready for typing (issue 16).
    expect(page.get_by_label("First name")).to_be_focused()
    expect(page.get_by_label("Order", exact=True)).to_have_value("")
    counter = page.locator(".composer-counter")
    # The counter counts the text as it stands, braces and all (each is 2 GSM-7 septets).
    expect(counter).to_contain_text(f"{count_segments(PICKUP).units} / 160 · 1 segment")
    screenshot(page, "phone-saved-reply-inserted.png")

    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.locator("main")).to_contain_text(
        "Fill in the blanks First name ({first_name}) and Order ({order}) of the saved reply "
        "“Pickup ready” before sending."
    )
    assert not Message.objects.filter(their_number="15162065591").exists()

    box.fill("Hi Ana, your order #1042 is ready for pickup at our Main Street store.")
    page.locator("details.send-later summary").click()
    later = timezone.localtime(timezone.now() + timedelta(days=1)).replace(hour=9, minute=30)
    page.get_by_label("Date and time").fill(later.strftime("%Y-%m-%dT%H:%M"))
    expect(page.locator(".send-later")).to_contain_text("In your time zone")
    screenshot(page, "phone-send-later.png")
    page.get_by_role("button", name="Schedule").click()
    expect(page.locator(".flash")).to_contain_text("Scheduled: the message to +1 516-206-5591")
    message = Message.objects.get(their_number="15162065591")
    assert message.status == Status.SCHEDULED
    assert message.send_at == later.replace(second=0, microsecond=0)
    row = page.locator(f"#message-{message.pk}")
    expect(row).to_contain_text("Scheduled for")
    layout.assert_fits(page, "Messaging with a scheduled message")
    screenshot(page, "phone-scheduled-recent.png")

    row.get_by_role("link", name="Cancel the message scheduled").click()
    expect(page.locator("h1")).to_have_text("Cancel this scheduled message?")
    page.get_by_role("button", name="Cancel message").click()
    expect(page.locator(".flash")).to_contain_text("will not be sent")
    expect(page.locator(f"#message-{message.pk}")).to_contain_text("cancelled", ignore_case=True)
    message.refresh_from_db()
    assert message.status == Status.CANCELLED


def test_in_a_conversation_a_reply_is_inserted_and_scheduled_in_place(
    page, live_server, console_errors, world, issue15
):
    layout.sign_in_as(page, live_server, layout.ROLES[3])  # inbox staff
    path = reverse("messaging:conversation", args=[CUSTOMER])
    page.goto(path)
    scheduled = issue15["scheduled"]
    bubble = page.locator(f"#message-{scheduled.pk}")
    expect(bubble).to_contain_text("Scheduled for")
    page.get_by_label("Saved replies").select_option(label="Opening hours")
    page.get_by_role("button", name="Insert").click()
    box = page.locator("#id_message")
    expect(box).to_have_value("We are open 9–5, Monday to Friday.")
    page.get_by_label("From DID").select_option(OUR_DID)
    page.locator("details.send-later summary").click()
    later = timezone.localtime(timezone.now() + timedelta(hours=3)).replace(second=0)
    page.get_by_label("Date and time").fill(later.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_role("button", name="Schedule").click()
    expect(page.locator("#composer")).to_contain_text("Reply scheduled for")
    assert page.url.endswith(path)  # in place, by htmx
    reply = Message.objects.filter(body="We are open 9–5, Monday to Friday.").get()
    assert reply.status == Status.SCHEDULED
    # The thread's poll shows it without a reload, with its Edit and Cancel.
    expect(page.locator(f"#message-{reply.pk}")).to_contain_text("Scheduled for")
    # The box is empty again and the picker still works on the swapped-in composer.
    expect(page.locator("#id_message")).to_have_value("")
    page.get_by_role("button", name="Insert").click()
    expect(page.locator("#id_message")).to_have_value("We are open 9–5, Monday to Friday.")
    layout.assert_fits(page, "conversation with scheduled replies")
    screenshot(page, "scheduled-reply.png")

    page.locator(f"#message-{scheduled.pk}").get_by_role("link", name="Edit the message").click()
    expect(page.locator("h1")).to_have_text("Edit scheduled message")
    page.locator("#id_message").fill("Ships tomorrow; tracking to follow.")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".flash")).to_contain_text("Saved: the message to")
    assert page.url.endswith(path)
    scheduled.refresh_from_db()
    assert scheduled.body == "Ships tomorrow; tracking to follow."
