"""The composer's live counter in Debian's Chromium: the browser counts as the server does."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from messaging.segments import count_segments, describe
from phone_numbers.models import Did
from tests.conftest import make_user

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
PRICE = "0.0075"
TEXTS = [
    "",
    "a" * 42,
    "a" * 160,
    "a" * 161,
    "a" * 306,
    "a" * 307,
    "€" * 80,
    "€" * 81,
    "a" * 152 + "€" + "a" * 152,
    "{[~]}|^\\ and a form feed \f",
    "ł" + "a" * 69,
    "ł" + "a" * 70,
    "ł" + "a" * 133,
    "ł" + "a" * 134,
    "😀" + "a" * 69,
    "ł" * 66 + "😀" + "ł" * 66,
    "a\u00a0b",
    "Line one\nLine two",
    "Über: Ä Ö Ñ Ü à é è ΔΦΓΛΩΠΨΣΘΞ £$¥ @ ¿¡ §",
]


@pytest.fixture
def send_page(live_server, client, settings):
    sync_api = pytest.importorskip("playwright.sync_api")
    settings.SMS_PRICE_PER_SEGMENT = PRICE
    Did.objects.create(did_sid="sid-575", phonenumber="15162065575", active_capabilities=7)
    client.force_login(make_user("sam", "Senders"))
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        context = browser.new_context()
        context.add_cookies(
            [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}]
        )
        page = context.new_page()
        page.goto(live_server.url + reverse("messaging:send"))
        yield page
        browser.close()


def test_the_counter_reads_what_the_server_computes(send_page):
    counter = send_page.locator("#id_message-counter")
    assert counter.get_attribute("aria-live") == "polite"
    for text in TEXTS:
        send_page.fill("textarea[name=message]", text)
        expected = describe(count_segments(text), Decimal(PRICE))
        assert counter.text_content() == expected, repr(text)


def test_a_from_did_with_its_own_price_changes_the_cost(send_page):
    send_page.fill("textarea[name=message]", "a" * 161)
    send_page.eval_on_selector(
        "select[name=from_did]",
        "select => { select.selectedOptions[0].dataset.price = '0.01';"
        " select.dispatchEvent(new Event('change')); }",
    )
    assert send_page.locator("#id_message-counter").text_content().endswith("≈ $0.0200")


def test_a_composer_that_htmx_swaps_in_counts_too(send_page):
    # What a reply does on the conversation page: htmx replaces the whole form after sending.
    send_page.eval_on_selector(
        "form:has(textarea[name=message])",
        "form => htmx.swap(form, form.outerHTML, {swapStyle: 'outerHTML'})",
    )
    send_page.fill("textarea[name=message]", "😀")
    assert send_page.locator("#id_message-counter").text_content() == (
        "2 / 70 · 1 segment · UCS-2 because of “😀” · ≈ $0.0075"
    )
