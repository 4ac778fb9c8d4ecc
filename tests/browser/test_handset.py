"""The sandbox handset in Chromium: it remembers which phone it is and which DID it texts across
reloads, its live region only ever gains the new bubbles (nothing in it is replaced), and on a
phone-sized screen it sends a picture as an MMS and shows it."""

from __future__ import annotations

import hashlib
import struct
import zlib

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from playwright.sync_api import expect

from sandbox.models import SandboxMedia
from tests.browser.conftest import sign_in, text_our_did

pytestmark = pytest.mark.browser

HANDSET = "15165550123"
SALES_1 = "15162065576"
INBOUND_LINE = "15162065318"


@pytest.fixture
def staff(transactional_db) -> User:
    return User.objects.create_user("stella", password="pw-stella", is_staff=True)


def test_the_handset_remembers_its_number_and_did_across_reloads(page, sandbox, staff):
    sign_in(page, staff, then=reverse("sandbox:phone"))
    page.get_by_label("Handset number").fill("+1 (516) 555-0123")
    page.get_by_label("To DID").select_option(SALES_1)
    page.get_by_label("Message").fill("Hello from my phone")
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#thread-messages li")).to_contain_text("Hello from my phone")
    assert page.url.endswith(reverse("sandbox:phone"))  # the send changed nothing in the address

    page.reload()

    expect(page.get_by_label("Handset number")).to_have_value(HANDSET)
    expect(page.get_by_label("To DID")).to_have_value(SALES_1)
    expect(page.get_by_role("heading", name="Conversation with +1 516-555-0123")).to_be_visible()
    expect(page.locator("#thread-messages li")).to_contain_text("Hello from my phone")

    # Picking another DID is remembered too, before anything is sent; a plain visit later opens it.
    page.get_by_label("To DID").select_option(INBOUND_LINE)
    page.goto(reverse("sandbox:phone"))
    expect(page.get_by_label("Handset number")).to_have_value(HANDSET)
    expect(page.get_by_label("To DID")).to_have_value(INBOUND_LINE)


WATCH_THE_REGION = """
() => {
  const region = document.querySelector("#thread-messages");
  region.dataset.watched = "yes";
  document.querySelector("#thread-messages li").dataset.watched = "yes";
  window.__removed = [];
  new MutationObserver((records) => {
    for (const record of records) {
      for (const node of record.removedNodes) window.__removed.push(node.nodeName);
    }
  }).observe(region, { childList: true });
}
"""


def test_a_new_text_is_appended_to_the_live_region_and_nothing_in_it_is_replaced(
    page, sandbox, staff, live_server
):
    text_our_did(live_server, handset=HANDSET, did=INBOUND_LINE, message="First text")
    sign_in(page, staff, then=f"{reverse('sandbox:phone')}?handset={HANDSET}")
    expect(page.locator("#thread-messages li")).to_have_count(1)
    page.evaluate(WATCH_THE_REGION)
    # A poll with nothing new leaves the region alone.
    with page.expect_response(lambda r: "after=" in r.url):
        pass

    text_our_did(live_server, handset=HANDSET, did=INBOUND_LINE, message="Second text")

    bubbles = page.locator("#thread-messages li")
    expect(bubbles).to_have_count(2)
    expect(bubbles.last).to_contain_text("Second text")
    # The same region and the same first bubble: a screen reader hears only the new one.
    assert page.evaluate("document.querySelector('#thread-messages').dataset.watched") == "yes"
    assert page.evaluate("document.querySelector('#thread-messages li').dataset.watched") == "yes"
    assert page.evaluate("window.__removed") == []
    assert page.locator("#handset [aria-live]").count() == 1
    expect(page.locator("#thread-messages")).to_have_attribute("aria-live", "polite")


def png(width: int, height: int) -> bytes:
    """A real PNG (orange), wider than a phone's screen if asked."""
    rows = b"".join(b"\x00" + b"\xff\x80\x00" * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def test_a_picture_attached_on_a_phone_goes_as_an_mms_and_shows_in_the_thread(page, sandbox, staff):
    picture = png(800, 300)
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, staff, then=f"{reverse('sandbox:phone')}?handset={HANDSET}")
    page.get_by_label("To DID").select_option(INBOUND_LINE)
    page.get_by_label("Message").fill("The parcel, as it came")
    page.get_by_label("Attach pictures or files").set_input_files(
        [{"name": "parcel.png", "mimeType": "image/png", "buffer": picture}]
    )
    page.get_by_role("button", name="Send").click()

    shown = page.locator("#thread-messages img[alt='parcel.png']")
    expect(shown).to_be_visible()
    assert shown.evaluate("img => img.complete && img.naturalWidth") == 800
    # Scaled to the bubble: nothing on the page is wider than the phone.
    assert shown.evaluate("img => img.getBoundingClientRect().width") <= 390
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    [kept] = SandboxMedia.objects.all()
    assert (kept.direction, kept.sha256) == ("inbound", hashlib.sha256(picture).hexdigest())
    assert kept.message.type == "mms"
