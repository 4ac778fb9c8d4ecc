"""Attaching pictures in the composer (Debian's Chromium): by the picker, by paste and by drop;
thumbnails with remove buttons; the MMS counter; a From DID that cannot send MMS; sent and seen
in Recently sent. At desktop and phone widths, with no console or CSP error (the page fixture)."""

from __future__ import annotations

import base64
import io
import re

import pytest
from django.urls import reverse
from PIL import Image
from playwright.sync_api import Page, expect

from messaging.models import Message
from phone_numbers.sync import numbers_sync
from tests.browser.conftest import screenshot, sign_in
from tests.conftest import make_user

pytestmark = pytest.mark.browser

MAIN_LINE = "15162065575"
SMS_ONLY_DID = "15162065580"
WIDTHS = [{"width": 1280, "height": 900}, {"width": 390, "height": 844}]


def picture(color: str, kind: str = "PNG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (160, 120), color).save(out, kind)
    return out.getvalue()


def hand_over(page: Page, event: str, name: str, data: bytes) -> None:
    """A file pasted into the message box ("paste") or dropped onto the composer ("drop"), as
    the browser delivers them: a DataTransfer holding a File."""
    page.eval_on_selector(
        "textarea[name=message]",
        """(box, [event, name, b64]) => {
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], name, { type: "image/png" }));
            const init = { bubbles: true, cancelable: true };
            box.dispatchEvent(event === "paste"
                ? new ClipboardEvent("paste", { ...init, clipboardData: transfer })
                : new DragEvent("drop", { ...init, dataTransfer: transfer }));
        }""",
        [event, name, base64.b64encode(data).decode()],
    )


@pytest.fixture
def composer(page, sandbox, worker, settings):
    settings.MMS_PRICE = "0.0200"
    numbers_sync()  # our DIDs in the portal's cache, with their MMS bits
    sign_in(page, make_user("sam", "Senders"))
    page.goto(reverse("messaging:send"))
    return page


@pytest.mark.parametrize("viewport", WIDTHS, ids=["desktop", "phone"])
@pytest.mark.parametrize("third", ["paste", "drop"])
def test_pictures_attached_by_picker_and_by_paste_or_drop_are_shown_counted_and_sent(
    composer, viewport, third
):
    page = composer
    page.set_viewport_size(viewport)
    page.get_by_label("From DID").select_option(MAIN_LINE)
    page.get_by_label("To DID").fill("+1 (516) 206-5574")
    page.get_by_label("Message").fill("The parcel, as it arrived")
    counter = page.locator("#id_message-counter")
    expect(counter).to_contain_text("1 segment · GSM-7")

    page.get_by_label("Attach", exact=True).set_input_files(
        [
            {"name": "front.png", "mimeType": "image/png", "buffer": picture("red")},
            {"name": "label.jpg", "mimeType": "image/jpeg", "buffer": picture("green", "JPEG")},
        ]
    )
    hand_over(page, third, "screenshot.png", picture("blue"))

    thumbnails = page.locator(".attach-list img")
    expect(thumbnails).to_have_count(3)
    expect(counter).to_have_text(re.compile(r"^MMS · 3 files · \d\.\d MB of 3 MB · ≈ \$0\.0200$"))
    assert page.eval_on_selector("input[name=attachments]", "input => input.files.length") == 3
    screenshot(page, f"composer-mms-{viewport['width']}.png")
    from tests.browser.test_layout import assert_fits, assert_tappable

    assert_fits(page, "composer with attachments")
    if viewport["width"] < 500:
        assert_tappable(page, "composer with attachments")

    page.get_by_role("button", name="Remove label.jpg").click()
    expect(thumbnails).to_have_count(2)
    expect(counter).to_contain_text("MMS · 2 files · ")
    assert page.eval_on_selector("input[name=attachments]", "input => input.files.length") == 2

    page.get_by_role("button", name="Send").click()

    newest = page.locator("#recent-messages tbody tr:first-child")
    expect(newest).to_contain_text("The parcel, as it arrived")
    expect(newest).to_contain_text("MMS · 2 files")
    expect(newest.locator("[data-status=delivered]")).to_be_visible(timeout=20_000)
    sent = Message.objects.get()
    assert (sent.kind, sent.media_count) == ("mms", 2)
    assert [m.name for m in sent.media.order_by("position")] == ["front.png", "screenshot.png"]


@pytest.mark.parametrize("viewport", WIDTHS, ids=["desktop", "phone"])
def test_a_from_did_that_cannot_send_mms_disables_attaching_and_says_why(composer, viewport):
    page = composer
    page.set_viewport_size(viewport)
    attach = page.get_by_label("Attach", exact=True)
    expect(attach).to_be_enabled()

    page.get_by_label("From DID").select_option(SMS_ONLY_DID)

    expect(attach).to_be_disabled()
    expect(page.locator(".attach-note")).to_have_text(
        "+1 516-206-5580 cannot send pictures or files (MMS is not enabled on it). Pick another "
        "From DID, or send the text alone."
    )
    hand_over(page, "paste", "ignored.png", picture("red"))
    expect(page.locator(".attach-list li")).to_have_count(0)

    page.get_by_label("From DID").select_option(MAIN_LINE)
    expect(attach).to_be_enabled()
    expect(page.locator(".attach-note")).to_be_hidden()


def test_too_many_files_are_called_out_before_sending(composer, console_errors):
    console_errors.expect("status of 422")  # the refused form's answer
    page = composer
    files = [
        {"name": f"p{i}.png", "mimeType": "image/png", "buffer": picture("red")} for i in range(11)
    ]
    page.get_by_label("Attach", exact=True).set_input_files(files)

    expect(page.locator(".attach-note")).to_have_text(
        "At most 10 files in one message; you attached 11."
    )
    page.get_by_label("To DID").fill("+1 (516) 206-5574")
    page.get_by_role("button", name="Send").click()
    # The server decides, with the same words, and keeps nothing.
    expect(page.locator(".errorlist")).to_contain_text("you attached 11")
    expect(page.locator(".attach-dropped")).to_be_visible()
    assert not Message.objects.exists()
