"""Every page of the portal, for every role (and a visitor where one may look), on a phone
(390×844) and on a desktop (1280×900): the page never scrolls sideways, the nav offers exactly what
the role may use (behind the Menu button on the phone), buttons and fields are big enough to tap,
and nothing breaks the Content-Security-Policy or logs an error (the page fixture's watch: console
errors and `securitypolicyviolation` events). With SCREENSHOTS=1 it saves phone-width screenshots
to docs/screenshots/:

    SCREENSHOTS=1 .venv/bin/pytest tests/browser/test_layout.py
"""

from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from PIL import Image
from playwright.sync_api import Page, expect

from campaigns.models import Campaign, ListRead
from campaigns.recipients import read_csv, recipients_prepare
from contacts.models import Contact, ContactImport, ContactTag
from messaging.media_files import thumbnail
from messaging.models import (
    CarrierEvent,
    Conversation,
    Direction,
    MediaState,
    Message,
    MessageMedia,
    SavedReply,
)
from phone_numbers.models import CallbackChange, Did, DidGroup
from phone_numbers.services import numbers_sync
from tests.browser.conftest import SCREENSHOTS, screenshot
from tests.conftest import make_user

pytestmark = pytest.mark.browser


def png_bytes(color: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (200, 150), color).save(out, "PNG")
    return out.getvalue()


PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
CUSTOMER = "15162065590"
# LAYOUT_SHOTS=/some/dir: a full-page screenshot of every page, role and width, to look at.
LAYOUT_SHOTS = Path(os.environ["LAYOUT_SHOTS"]) if os.environ.get("LAYOUT_SHOTS") else None


def slug(path: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") or "home"


OUR_DID = "15162065320"
LONG_URL = "https://hooks.example.com/carrierx/" + "callbacks-for-the-support-team/" * 6 + "sms"
LONG_TEXT = (
    "Hello! Your order #1042-ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 left our warehouse today; "
    "tracking: https://tracking.example.com/very/long/path/that/does/not/break/anywhere/at/all "
)

# The sandbox's seeded DID that texts but cannot send MMS.
SMS_ONLY_DID = "15162065580"
# What the composer-with-attachments state attaches: two pictures and a document.
ATTACHMENTS = [
    {"name": "parcel-front.png", "mimeType": "image/png", "buffer": png_bytes("red")},
    {"name": "label.png", "mimeType": "image/png", "buffer": png_bytes("green")},
    {"name": "terms-and-conditions-2026.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4"},
]


def photo_bytes(size: tuple[int, int], colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "JPEG")
    return out.getvalue()


# An inbound MMS's files as the download task leaves them (issue 14): stored photos with their
# thumbnails, a PDF and an SVG (downloads only), one still downloading, one not downloaded.
MMS_FILES = [
    ("parcel-front.jpg", "image/jpeg", photo_bytes((800, 600), (176, 128, 80))),
    ("parcel-label-with-a-very-long-name-from-the-phone-IMG_20261129_101500.jpg", "image/jpeg",
     photo_bytes((600, 800), (230, 230, 220))),
    ("damaged-corner.jpg", "image/jpeg", photo_bytes((1024, 768), (120, 150, 110))),
    ("delivery-note.pdf", "application/pdf", b"%PDF-1.4\n" + b"0" * 120_000),
    ("logo.svg", "image/svg+xml", b'<svg xmlns="http://www.w3.org/2000/svg"/>'),
]  # fmt: skip


def add_mms_files(message: Message) -> None:
    """Store MMS_FILES on `message` as downloaded, then a pending and a failed file."""
    for position, (name, content_type, data) in enumerate(MMS_FILES):
        media = MessageMedia(
            message=message,
            position=position,
            source_url=f"https://storage.carrierx.com/f/file-{position}",
            name=name,
            content_type=content_type,
            size=len(data),
            state=MediaState.STORED,
        )
        media.file.save(name, ContentFile(data), save=False)
        if content_type == "image/jpeg":
            media.thumbnail.save(name, ContentFile(thumbnail(data)), save=False)
        media.save()
    after = len(MMS_FILES)
    MessageMedia.objects.create(
        message=message,
        position=after,
        source_url="https://storage.carrierx.com/f/pending",
        state=MediaState.PENDING,
    )
    MessageMedia.objects.create(
        message=message,
        position=after + 1,
        source_url="https://storage.carrierx.com/f/expired",
        state=MediaState.FAILED,
        attempts=1,
        error="answered 404",
    )
    Message.objects.filter(pk=message.pk).update(media_count=after + 2)


DAILY = ["Messaging", "Inbox", "Contacts", "Messages", "Campaigns", "Dashboard"]
CONFIGURE = ["Phone Numbers", "DID Groups", "Global Settings → Callbacks", "Auto-reply"]


@dataclass(frozen=True)
class Role:
    name: str
    groups: tuple[str, ...]
    staff: bool = False

    @property
    def sends(self) -> bool:
        return "Senders" in self.groups or self.staff

    @property
    def reads(self) -> bool:
        return "Inbox staff" in self.groups or self.staff

    @property
    def configures(self) -> bool:
        return "Number admins" in self.groups or self.staff

    def nav(self) -> list[str]:
        daily = (
            (["Messaging"] if self.sends else [])
            + (["Inbox", "Contacts", "Messages"] if self.reads else [])
            + (["Campaigns"] if self.sends else [])
            + (["Dashboard"] if self.reads else [])
        )
        return daily + CONFIGURE + (["Sandbox handset", "Admin"] if self.staff else [])


ROLES = [
    Role("admin", ("Senders", "Number admins", "Inbox staff"), staff=True),
    Role("number-admin", ("Number admins",)),
    Role("sender", ("Senders",)),
    Role("inbox-staff", ("Inbox staff",)),
    Role("no-role", ()),
]


@pytest.fixture
def world(sandbox):
    """The sandbox's numbers in the cache, one with a very long callback URL (and its history
    row); a conversation with an inbound text and a long delivered reply, and the callback that
    delivered it."""
    numbers_sync()
    did = Did.objects.get(phonenumber=OUR_DID)
    Did.objects.filter(pk=did.pk).update(callback_url=LONG_URL)
    CallbackChange.objects.create(
        username="nora",
        object_kind=CallbackChange.Kind.DID,
        object_sid=did.did_sid,
        label=did.formatted,
        field="callback_url",
        old_value="",
        new_value=LONG_URL,
        carrier_answer=CallbackChange.ACCEPTED,
    )
    inbound = Message.objects.create(
        message_sid="in-1",
        direction=Direction.INBOUND,
        our_number=OUR_DID,
        their_number=CUSTOMER,
        body="My order #1042 has not arrived yet. Can you check?",
        status="received",
    )
    pictures = Message.objects.create(
        message_sid="in-mms-1",
        direction=Direction.INBOUND,
        our_number=OUR_DID,
        their_number=CUSTOMER,
        body="Here is what arrived:",
        kind="mms",
        group_recipients=["15162065591", "15162065592"],
        status="received",
    )
    add_mms_files(pictures)
    reply = Message.objects.create(
        message_sid="out-1",
        direction=Direction.OUTBOUND,
        our_number=OUR_DID,
        their_number=CUSTOMER,
        body=LONG_TEXT * 2,
        status="delivered",
        segments=2,
        price="0.0150",
    )
    CarrierEvent.objects.create(
        body='{"message_sid": "out-1", "status": "delivered", "message": "' + LONG_TEXT + '"}',
        message_sid="out-1",
        status="delivered",
        outcome="status delivered",
        message=reply,
    )
    Conversation.objects.create(
        customer_number=CUSTOMER,
        last_message=reply,
        last_activity_at=timezone.now(),
        last_inbound_did=OUR_DID,
        unread_count=1,
    )
    group = DidGroup.objects.order_by("name").first()
    return {
        "did": did,
        "group": group,
        "message": inbound,
        "pictures": pictures,
        **campaign_world(),
        **contacts_world(),
    }


def contacts_world() -> dict:
    """The conversation's customer as a contact with long words everywhere a phone could be
    pushed sideways (name, company, tags, fields, notes), a finished import whose report has
    every outcome, and a saved reply."""
    contact = Contact.objects.create(
        number=CUSTOMER,
        name="Maximiliana Wolfeschlegelsteinhausenbergerdorff",
        company="Acme Industrial Supplies and International Logistics Incorporated",
        notes=LONG_TEXT,
        fields={"account_reference": "ACCT-" + "9" * 40, "window": "weekday mornings"},
    )
    ContactTag.objects.create(contact=contact, name="wholesale-priority-north-east-region")
    ContactTag.objects.create(contact=contact, name="vip")
    job = ContactImport.objects.create(
        filename="customers-from-the-old-crm-" + "x" * 40 + ".csv",
        state=ContactImport.State.DONE,
        rows_total=3,
        rows_read=3,
        finished_at=timezone.now(),
        report=[
            [1, "+1 212 555 1000", "created", ""],
            [2, "not a number at all, just some words", "skipped", "not a phone number"],
            [3, "+1 (212) 555-1000", "skipped", "the same number as row 1"],
        ],
    )
    reply = SavedReply.objects.create(name="Order ready", body="Hi {first_name}, it is ready.")
    return {"contact": contact, "import": job, "saved_reply": reply}


def campaign_world() -> dict:
    """A draft with a list that removes some rows and flags others, and a running campaign
    halfway through (its messages written directly: no dispatcher runs here)."""
    body = "Hi {first_name}, your order from {company} is ready. Reply STOP to opt out."
    rows = "first_name,phone,company\nAnn,+1 212 555 1000,Acme\n,+1 212 555 1001,\n"
    rows += "Zoë,+1 212 555 1002,Initech\nBob,not a number,Acme\nAnn,+1 212 555 1000,Acme\n"
    draft = Campaign.objects.create(name="Spring sale", body=body, dids=[OUR_DID])
    recipients_prepare(draft, read_csv(rows.encode()))
    running = Campaign.objects.create(
        name="Order ready — a long campaign name that must wrap on a phone",
        body=body,
        dids=[OUR_DID, SMS_ONLY_DID],
        state=Campaign.State.RUNNING,
        started_at=timezone.now(),
        quiet_start="21:00",
        quiet_end="08:00",
    )
    recipients_prepare(running, read_csv(rows.encode()))
    for recipient in running.recipients.filter(state="pending")[:2]:
        message = Message.objects.create(
            direction=Direction.OUTBOUND,
            our_number=recipient.our_number,
            their_number=recipient.number,
            body="Hi",
            status="delivered",
            message_sid=f"campaign-{recipient.pk}",
            price="0.0075",
        )
        recipient.state, recipient.message = "messaged", message
        recipient.save()
    # A long list halfway read by the worker, its file name long enough to wrap on a phone.
    reading = ListRead.objects.create(
        campaign=draft,
        fields={"name": "Spring sale"},
        filename="customers-exported-from-the-old-crm-" + "x" * 40 + ".csv",
        state=ListRead.State.RUNNING,
        rows_total=48_000,
        rows_read=12_500,
        started_at=timezone.now(),
    )
    return {"draft": draft, "running": running, "reading": reading}


def pages_for(role: Role | None, world) -> list[tuple[str, int]]:
    """(path, expected status) of every page the role can reach, and the refusals it may meet."""
    did, group = world["did"], world["group"]
    if role is None:
        return [(reverse("login"), 200), ("/no-such-page/", 404)]
    pages = [
        (reverse("preferences"), 200),
        (reverse("numbers:list"), 200),
        (did.get_absolute_url(), 200),
        (reverse("numbers:groups"), 200),
        (reverse("numbers:group_detail", args=[group.did_group_sid]), 200),
        (reverse("numbers:partner_callbacks"), 200),
        (reverse("numbers:rent"), 200),
        (reverse("numbers:rent") + "?country_code=USA&state=NY&sms=on", 200),
        (reverse("messaging:auto_replies"), 200),
        ("/no-such-page/", 404),
        (reverse("messaging:send"), 200 if role.sends else 403),
        (reverse("messaging:inbox"), 200 if role.reads else 403),
        (reverse("dashboard"), 200 if role.reads else 403),
        (reverse("campaigns:list"), 200 if role.sends else 403),
        (reverse("campaigns:list_read", args=[world["reading"].pk]), 200 if role.sends else 403),
    ]
    if role.sends:
        draft, running = world["draft"], world["running"]
        pages += [
            (reverse("campaigns:new"), 200),
            (reverse("campaigns:preview", args=[draft.pk]), 200),
            (reverse("campaigns:delete", args=[draft.pk]), 200),
            (running.get_absolute_url(), 200),
            (reverse("campaigns:report", args=[running.pk]), 200),
            (reverse("campaigns:cancel", args=[running.pk]), 200),
        ]
    pages.append((reverse("messaging:saved_replies"), 200 if role.sends or role.reads else 403))
    # The saved reply has no author: only a superuser may change it.
    pages.append(
        (
            reverse("messaging:saved_reply_edit", args=[world["saved_reply"].pk]),
            200 if role.staff else 403,
        )
    )
    contact = world["contact"]
    contact_pages = [
        reverse("contacts:list"),
        reverse("contacts:list") + "?q=wholesale",
        reverse("contacts:new"),
        reverse("contacts:detail", args=[contact.pk]),
        reverse("contacts:detail", args=[contact.pk]) + "?added=1",  # just added: name focused
        reverse("contacts:delete", args=[contact.pk]),
        reverse("contacts:import"),
        reverse("contacts:import_report", args=[world["import"].pk]),
    ]
    pages += [(path, 200 if role.reads else 403) for path in contact_pages]
    pages.append((reverse("messaging:conversation_new"), 200 if role.reads and role.sends else 403))
    if role.reads:
        pages += [
            (reverse("messaging:conversation", args=[CUSTOMER]), 200),
            (reverse("messaging:messages"), 200),
            (reverse("messaging:message", args=[world["message"].pk]), 200),
            (reverse("messaging:message", args=[world["pictures"].pk]), 200),
        ]
    if role.configures:
        pages += [
            (reverse("numbers:did_callback", args=[did.did_sid]), 200),
            (reverse("numbers:group_callback", args=[group.did_group_sid]), 200),
            (reverse("numbers:partner_callback"), 200),
            (reverse("messaging:auto_reply_save", args=[did.did_sid]), 200),
            (reverse("numbers:release", args=[did.did_sid]), 200),
        ]
    else:
        pages.append((reverse("messaging:auto_reply_save", args=[did.did_sid]), 403))
        pages.append((reverse("numbers:release", args=[did.did_sid]), 403))
    if role.staff:
        pages.append((reverse("sandbox:phone"), 200))
    return pages


def sign_in_as(page: Page, live_server, role: Role) -> None:
    """A session for the role's user, handed to the browser as its cookie (the login form itself
    is one of the pages under test, as the visitor's)."""
    user = make_user(role.name, *role.groups)
    if role.staff:
        user.is_staff = user.is_superuser = True
        user.save()
    client = Client()
    client.force_login(user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}]
    )


def assert_fits(page: Page, path: str) -> None:
    width, scroll = page.evaluate("[window.innerWidth, document.scrollingElement.scrollWidth]")
    if scroll > width:
        culprits = page.evaluate(
            """() => [...document.querySelectorAll('body *')]
                .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 0.5)
                .slice(0, 5).map((el) => el.tagName + '.' + el.className + ' ' +
                  Math.round(el.getBoundingClientRect().right))"""
        )
        pytest.fail(f"{path}: the page is {scroll} px wide in a {width} px window: {culprits}")


def assert_no_csp_violation(console_errors, path: str) -> None:
    """The page fixture's watch fails the test at its end; this says on which page."""
    assert [e for e in console_errors.seen if e.startswith("csp:")] == [], path


def nav_names(page: Page) -> list[str]:
    """The nav and tools links (and Sign out) that are visible, in order."""
    return page.evaluate(
        """() => [...document.querySelectorAll('#site-menu a, #site-menu button')]
            .filter((el) => el.checkVisibility())
            .map((el) => el.firstChild.textContent.trim())"""
    )


def assert_nav(page: Page, role: Role, *, phone: bool, path: str) -> None:
    menu = page.get_by_role("button", name="Menu", exact=True)
    expected = [*role.nav(), "Preferences", "Sign out"]
    if phone:
        expect(menu).to_be_visible()
        expect(menu).to_have_attribute("aria-expanded", "false")
        assert nav_names(page) == [], f"{path}: the nav should be folded behind Menu"
        menu.click()
        expect(menu).to_have_attribute("aria-expanded", "true")
    else:
        expect(menu).to_be_hidden()
    assert nav_names(page) == expected, path
    for label in [*DAILY, *CONFIGURE]:
        # The Inbox link carries its unread count ("Inbox 1 unread").
        name = re.compile(rf"^{re.escape(label)}( \d+ unread)?$")
        link = page.locator("#site-menu nav").get_by_role("link", name=name)
        if label in expected:
            expect(link).to_be_visible()
        else:
            expect(link).to_have_count(0)
    if phone:
        assert_fits(page, path + " (menu open)")
        page.keyboard.press("Escape")
        expect(menu).to_have_attribute("aria-expanded", "false")
        expect(menu).to_be_focused()


def assert_tappable(page: Page, path: str) -> None:
    """Buttons, button-like links, fields and nav links are at least 44 px tall on a phone."""
    small = page.evaluate(
        """() => [...document.querySelectorAll(
                'button, .button, input:not([type=hidden]):not([type=checkbox]):not([type=radio]),'
                + ' select, textarea, .navlist a, .tools a')]
            .filter((el) => el.checkVisibility())
            .map((el) => [el.tagName + ' ' + (el.textContent || el.name || '').trim().slice(0, 30),
                          el.getBoundingClientRect().height])
            .filter(([, h]) => h < 43.5)"""
    )
    assert small == [], f"{path}: too small to tap: {small}"


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
@pytest.mark.parametrize("role", [*ROLES, None], ids=[r.name for r in ROLES] + ["visitor"])
def test_every_page_fits_offers_only_what_the_role_may_use_and_keeps_the_csp(
    page, live_server, console_errors, world, role, viewport
):
    phone = viewport is PHONE
    page.set_viewport_size(viewport)
    # The browser logs every 403/404 answer as a console error; those pages are expected here.
    console_errors.expect("status of 403")
    console_errors.expect("status of 404")
    if role is not None:
        sign_in_as(page, live_server, role)
    for path, status in pages_for(role, world):
        response = page.goto(path)
        assert response.status == status, path
        expect(page.locator("main h1").first).to_be_visible()
        assert_fits(page, path)
        assert_no_csp_violation(console_errors, path)
        if LAYOUT_SHOTS:
            shot = f"{role.name if role else 'visitor'}-{viewport['width']}-{slug(path)}.png"
            page.screenshot(path=LAYOUT_SHOTS / shot, full_page=True, animations="disabled")
        if phone:
            assert_tappable(page, path)
        if role is not None:
            assert_nav(page, role, phone=phone, path=path)
            if not role.configures:
                edit = page.locator("main").get_by_role("link", name="Edit", exact=True)
                expect(edit).to_have_count(0)
        else:
            expect(page.get_by_role("button", name="Menu")).to_have_count(0)
    if role is not None and not role.sends:
        page.goto(reverse("messaging:send"))
        expect(page.get_by_role("alert")).to_contain_text("needs the Senders role")
        expect(page.locator("main").get_by_role("link", name="Your start page")).to_be_visible()


def test_the_auto_reply_form_opens_and_saves_in_its_row_at_phone_width(
    page, live_server, console_errors, world
):
    page.set_viewport_size(PHONE)
    sign_in_as(page, live_server, ROLES[1])
    page.goto(reverse("messaging:auto_replies"))
    did = world["did"]
    row = page.locator(f"#auto-reply-{did.did_sid}")
    row.get_by_role("link", name=f"Edit auto-reply on {did.formatted}").click()
    form = page.get_by_role("form", name=f"Auto-reply on {did.label}")
    expect(form).to_be_visible()
    expect(form.get_by_label("Reply automatically to every inbound SMS")).to_be_focused()
    assert page.url.endswith(reverse("messaging:auto_replies"))  # in place, by htmx
    form.get_by_label("Reply automatically to every inbound SMS").check()
    form.get_by_label("Reply", exact=True).fill("Thanks! We will answer within the hour.")
    form.get_by_label("At most once per customer every").fill("30")
    assert_fits(page, "auto-reply form")
    form.get_by_role("button", name="Save").click()
    expect(row).to_have_attribute("data-state", "on")
    expect(row).to_contain_text("Thanks! We will answer within the hour.")
    expect(page.locator("#auto-reply-notice")).to_contain_text(
        f"Auto-reply on {did.formatted} is on."
    )
    expect(row.get_by_role("link", name=f"Edit auto-reply on {did.formatted}")).to_be_focused()
    assert_no_csp_violation(console_errors, "after the swaps")
    assert_fits(page, "auto-reply saved")


def test_phone_width_screenshots(page, live_server, console_errors, world):
    """The pages people use most from a phone, for the README (only with SCREENSHOTS=1)."""
    console_errors.expect("status of 403")  # the last one is the 403 page
    page.set_viewport_size(PHONE)
    sign_in_as(page, live_server, ROLES[0])
    shots = [
        (reverse("messaging:send"), "phone-messaging.png"),
        (reverse("messaging:inbox"), "phone-inbox.png"),
        (reverse("messaging:conversation", args=[CUSTOMER]), "phone-conversation.png"),
        (reverse("numbers:list"), "phone-number-list.png"),  # phone-numbers.png: the desktop list
        (reverse("messaging:auto_replies"), "phone-auto-reply.png"),
    ]
    for path, name in shots:
        page.goto(path)
        assert_fits(page, path)
        screenshot(page, name)
    page.get_by_role("button", name="Menu", exact=True).click()
    expect(page.get_by_role("link", name="Phone Numbers")).to_be_visible()
    if os.environ.get("SCREENSHOTS") == "1":
        page.screenshot(path=SCREENSHOTS / "phone-menu.png", animations="disabled")  # the fold
    page.context.clear_cookies()
    sign_in_as(page, live_server, ROLES[4])
    page.goto(reverse("messaging:send"))
    screenshot(page, "phone-403.png")
    assert_no_csp_violation(console_errors, "screenshots")


@pytest.mark.parametrize("width", [360, 720, 721, 999, 1000, 1099, 1100, 1180])
def test_no_width_between_phone_and_desktop_scrolls_sideways(page, live_server, world, width):
    """Around each breakpoint of the stylesheet, with the longest nav (an admin's)."""
    page.set_viewport_size({"width": width, "height": 800})
    sign_in_as(page, live_server, ROLES[0])
    pages = [
        reverse("numbers:list"),
        world["did"].get_absolute_url(),
        reverse("messaging:send"),
        reverse("messaging:inbox"),
        reverse("messaging:messages"),
        reverse("messaging:auto_replies"),
    ]
    for path in pages:
        page.goto(path)
        assert_fits(page, f"{path} at {width} px")
        menu = page.get_by_role("button", name="Menu", exact=True)
        if menu.is_visible():
            menu.click()
            assert_fits(page, f"{path} at {width} px, menu open")
        expect(page.locator("#site-menu").get_by_role("link", name="Auto-reply")).to_be_visible()


def test_the_watch_sees_a_csp_violation(page, live_server, console_errors):
    """The checks above would pass vacuously if violations went unseen: provoke one."""
    console_errors.expect("csp: style-src-attr")
    console_errors.expect("Applying inline style violates")
    page.goto(reverse("login"))
    page.evaluate("document.body.setAttribute('style', 'color: red')")
    expect(page.locator("body")).to_have_attribute("style", "color: red")
    page.wait_for_timeout(200)
    assert [e for e in console_errors.seen if e.startswith("csp: style-src-attr")], (
        console_errors.seen
    )


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_composers_with_attachments_fit_are_tappable_and_keep_the_csp(
    page, live_server, console_errors, world, viewport
):
    """The Messaging page and a conversation's reply with pictures and a file attached: the
    thumbnails (blob: URLs, which the CSP allows for images), their remove buttons and the note
    of a From DID that cannot send MMS."""
    page.set_viewport_size(viewport)
    sign_in_as(page, live_server, ROLES[0])
    for path in (reverse("messaging:send"), reverse("messaging:conversation", args=[CUSTOMER])):
        page.goto(path)
        page.get_by_label("From DID").select_option(OUR_DID)
        page.get_by_label("Attach", exact=True).set_input_files(ATTACHMENTS)
        expect(page.locator(".attach-list img")).to_have_count(2)
        expect(page.locator(".attach-list li")).to_have_count(3)
        page.get_by_label("From DID").select_option(SMS_ONLY_DID)
        expect(page.locator(".attach-note")).to_contain_text("cannot send pictures or files")
        assert_fits(page, f"{path} with attachments")
        assert_no_csp_violation(console_errors, f"{path} with attachments")
        if viewport is PHONE:
            assert_tappable(page, f"{path} with attachments")
