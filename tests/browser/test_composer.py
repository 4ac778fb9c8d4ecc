"""The composer's live counter in Debian's Chromium: the browser counts as GSM 03.38 says (the
table written out in tests/gsm0338.py, not the server's own)."""

from __future__ import annotations

import unicodedata
from decimal import Decimal

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from phone_numbers.models import Did
from tests import gsm0338
from tests.browser.conftest import sign_in
from tests.conftest import make_user

pytestmark = pytest.mark.browser

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
    "".join(sorted(gsm0338.BASIC - {"\r"})),
    "Ça va, façade",
    "It’s “quoted” — with an ellipsis…",
]


def expected_counter(text: str) -> str:
    """The counter's words for `text`, by the standard."""
    encoding, units, segments, capacity = gsm0338.expected_count(text)
    parts = [f"{units} / {capacity}", f"{segments} segment{'' if segments == 1 else 's'}"]
    culprit = next((ch for ch in text if ch not in gsm0338.BASIC | gsm0338.EXTENSION), None)
    if culprit is None:
        parts.append(encoding)
    else:
        invisible = unicodedata.category(culprit)[0] in "CZ"
        label = f"U+{ord(culprit):04X}" if invisible else f"“{culprit}”"
        parts.append(f"{encoding} because of {label}")
    if segments:
        parts.append(f"≈ ${Decimal(PRICE) * segments:.4f}")
    return " · ".join(parts)


@pytest.fixture
def send_page(page, settings):
    settings.SMS_PRICE_PER_SEGMENT = PRICE
    Did.objects.create(did_sid="sid-575", phonenumber="15162065575", active_capabilities=7)
    sign_in(page, make_user("sam", "Senders"))
    page.goto(reverse("messaging:send"))
    return page


def test_typing_an_emoji_switches_the_counter_to_ucs2_and_names_it(send_page):
    message = send_page.get_by_label("Message")
    counter = send_page.locator("#id_message-counter")
    message.press_sequentially("Hello")
    expect(counter).to_have_text("5 / 160 · 1 segment · GSM-7 · ≈ $0.0075")
    message.press_sequentially("😀")
    expect(counter).to_have_text("7 / 70 · 1 segment · UCS-2 because of “😀” · ≈ $0.0075")


def test_the_counter_reads_what_the_standard_says(send_page):
    counter = send_page.locator("#id_message-counter")
    assert counter.get_attribute("aria-live") == "polite"
    for text in TEXTS:
        send_page.fill("textarea[name=message]", text)
        expected = expected_counter(text)
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
