"""Inbound MMS in the browser (issue 14): with a conversation open, the carrier posts an MMS with
three photos (served by a local media host), the task worker downloads them, and the three
thumbnails appear in the open thread by its live poll, without a reload, on a desktop and on a
phone, with no sideways scrolling, no console error and nothing the CSP refuses. Every kind of
file (test_layout's MMS, which its page list and test_accessibility's axe run also cover) shows
as it should on a conversation and a message page.

    SCREENSHOTS=1 .venv/bin/pytest tests/browser/test_inbound_mms.py   # docs/screenshots/
"""

from __future__ import annotations

import io
import uuid

import pytest
import requests
from django.urls import reverse
from django.utils import timezone
from PIL import Image, ImageDraw
from playwright.sync_api import expect

from messaging.models import Conversation, Direction, MediaState, Message, MessageMedia
from tests.browser import test_layout as layout
from tests.browser.conftest import mark_page, screenshot, sign_in, still_same_page, wait_until
from tests.conftest import load_fixture, make_user
from tests.test_inbound_media import MediaServer

pytestmark = pytest.mark.browser

CUSTOMER = "15162065319"
OUR_DID = "15162065318"


def photo(background: tuple[int, int, int], shape: tuple[int, int, int], size=(800, 600)) -> bytes:
    """Something that looks like a photo in a screenshot: a scene, not a flat colour."""
    image = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(image)
    w, h = size
    draw.rectangle([w * 0.2, h * 0.3, w * 0.8, h * 0.85], fill=shape, outline=(40, 40, 40), width=8)
    draw.line([w * 0.2, h * 0.3, w * 0.5, h * 0.1, w * 0.8, h * 0.3], fill=(40, 40, 40), width=8)
    draw.ellipse([w * 0.05, h * 0.05, w * 0.2, h * 0.25], fill=(250, 210, 60))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


PICTURES = {
    "/parcel-front.jpg": photo((170, 200, 230), (176, 128, 80)),
    "/parcel-label.jpg": photo((220, 220, 210), (240, 240, 240), size=(600, 800)),
    "/damaged-corner.jpg": photo((120, 150, 110), (150, 100, 60), size=(1024, 768)),
}


@pytest.fixture
def pictures_host(settings):
    """A media host answering the three photos; trusted by host:port as a private host."""
    server = MediaServer()
    server.extra = PICTURES
    server.thread.start()
    settings.MEDIA_DOWNLOAD_PRIVATE_HOSTS = [server.host]
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


def post_callback(live_server, settings, payload: dict) -> None:
    url = live_server.url + reverse("webhook", args=[settings.CARRIERX_WEBHOOK_SECRET])
    response = requests.post(url, json=payload, timeout=10)
    assert response.status_code == 200, response.text


def inbound(text: str, **fields) -> dict:
    payload = load_fixture("inbound_legacy")
    payload.update(message_sid=str(uuid.uuid4()), message=text, **fields)
    return payload


@pytest.mark.parametrize(
    "viewport", [layout.DESKTOP, layout.PHONE], ids=["desktop-1280", "phone-390"]
)
def test_three_photos_appear_as_thumbnails_in_the_open_conversation_without_a_reload(
    page, worker, live_server, settings, pictures_host, console_errors, viewport
):
    page.set_viewport_size(viewport)
    post_callback(live_server, settings, inbound("Hi, my parcel arrived damaged."))
    wait_until(lambda: Conversation.objects.exists(), what="the conversation")
    sign_in(page, make_user("ines", "Inbox staff"), then=reverse("messaging:inbox"))
    page.goto(reverse("messaging:conversation", args=[CUSTOMER]))
    expect(page.locator("#thread-rows .bubble")).to_have_count(1)
    mark_page(page)

    urls = [pictures_host.url(path) for path in PICTURES]
    post_callback(
        live_server,
        settings,
        inbound("", type="mms", media_urls=urls, group_recipients=["15162065580"]),
    )
    bubble = page.locator("#thread-rows .bubble.inbound").nth(1)
    thumbnails = bubble.locator(".mms-thumb img")
    expect(thumbnails).to_have_count(3, timeout=15_000)
    for n, path in enumerate(PICTURES):
        alt = f"JPEG image {n + 1} of 3: {path.lstrip('/')}"
        expect(thumbnails.nth(n)).to_have_attribute("alt", alt)
    assert still_same_page(page), "the conversation reloaded; the files should arrive by htmx"
    assert pictures_host.hits == dict.fromkeys(PICTURES, 1)

    # Every thumbnail loaded (the CSP allowed it), links to the full file, and they wrap.
    page.wait_for_function(
        "() => [...document.querySelectorAll('.mms-thumb img')]"
        ".every((img) => img.complete && img.naturalWidth > 0)"
    )
    stored = list(MessageMedia.objects.filter(state=MediaState.STORED).order_by("position"))
    assert [f.name for f in stored] == [path.lstrip("/") for path in PICTURES]
    for n, media in enumerate(stored):
        link = bubble.locator(".mms-thumb").nth(n)
        expect(link).to_have_attribute("href", reverse("messaging:media", args=[media.token]))
    expect(bubble).to_contain_text("Group: +1 516-206-5319, +1 516-206-5318, +1 516-206-5580")
    layout.assert_fits(page, f"conversation with pictures at {viewport['width']} px")
    tops = thumbnails.evaluate_all("(imgs) => imgs.map((img) => img.getBoundingClientRect().top)")
    if viewport is layout.PHONE:
        assert len(set(tops)) > 1, "three thumbnails side by side cannot fit a phone's bubble"
    screenshot(page, f"conversation-pictures-{viewport['width']}.png")

    page.goto(reverse("messaging:inbox"))
    expect(page.locator(f"#conversation-{CUSTOMER} .mms-count")).to_have_text("3 photos")
    layout.assert_no_csp_violation(console_errors, "inbox")


@pytest.fixture
def conversation_with_pictures(transactional_db) -> str:
    """A conversation whose MMS holds test_layout's files: three stored photos, a PDF, an SVG, a
    file still downloading and one that failed."""
    message = Message.objects.create(
        message_sid="mms-1",
        direction=Direction.INBOUND,
        our_number=OUR_DID,
        their_number=CUSTOMER,
        body="Photos of the damage, and the delivery note.",
        kind="mms",
        group_recipients=["15162065580"],
        status="received",
    )
    layout.add_mms_files(message)
    Conversation.objects.create(
        customer_number=CUSTOMER,
        last_message=message,
        last_activity_at=timezone.now(),
        last_inbound_did=OUR_DID,
        unread_count=1,
    )
    return reverse("messaging:conversation", args=[CUSTOMER])


@pytest.mark.parametrize("viewport", [layout.PHONE, layout.DESKTOP], ids=["phone", "desktop"])
def test_the_conversation_with_pictures_passes_the_page_checks(
    page, live_server, console_errors, conversation_with_pictures, viewport
):
    """test_layout's checks on the conversation and its message page with every kind of file."""
    phone = viewport is layout.PHONE
    page.set_viewport_size(viewport)
    role = layout.ROLES[3]  # inbox staff
    layout.sign_in_as(page, live_server, role)
    message = Message.objects.get()
    for path in (conversation_with_pictures, reverse("messaging:message", args=[message.pk])):
        assert page.goto(path).status == 200
        expect(page.locator(".mms-thumb img")).to_have_count(3)
        page.wait_for_function(
            "() => [...document.querySelectorAll('.mms-thumb img')]"
            ".every((img) => img.complete && img.naturalWidth > 0)"
        )
        expect(page.locator("main img")).to_have_count(3)  # the SVG is never an image
        expect(page.get_by_role("link", name="delivery-note.pdf")).to_be_visible()
        expect(page.locator("main")).to_contain_text("PDF document · 117 KB")
        expect(page.locator("main")).to_contain_text("Downloading…")
        expect(page.locator("main")).to_contain_text("Not downloaded: answered 404.")
        layout.assert_fits(page, path)
        layout.assert_no_csp_violation(console_errors, path)
        if phone:
            layout.assert_tappable(page, path)
        layout.assert_nav(page, role, phone=phone, path=path)
        screenshot(page, f"conversation-files-{'phone' if phone else 'desktop'}.png")
