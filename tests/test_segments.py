"""SMS segments: one table and one rule for the server and the composer's live counter."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from messaging.forms import MAX_MESSAGE_LENGTH, SendForm
from messaging.models import Conversation
from messaging.segments import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    count_segments,
    describe,
    price_per_segment,
    segment_table,
)
from phone_numbers.models import Did
from tests import gsm0338
from tests.conftest import make_user

OUR_DID = "15162065575"
CUSTOMER = "15162065319"


@pytest.mark.parametrize(
    ("length", "segments", "remaining"), [(160, 1, 0), (161, 2, 145), (306, 2, 0), (307, 3, 152)]
)
def test_gsm7_fits_160_alone_and_153_per_part(length, segments, remaining):
    count = count_segments("a" * length)
    assert (count.encoding, count.units, count.segments) == ("GSM-7", length, segments)
    assert count.remaining == remaining
    assert count.ucs2_culprit is None


# The table itself, against GSM 03.38 as tests/gsm0338.py writes it out.


def test_the_standard_as_written_out_has_128_positions_and_10_extension_characters():
    assert len(gsm0338.BASIC_TABLE) == 128
    assert len(gsm0338.BASIC) == 127  # every position but ESC, each a different character
    assert len(gsm0338.EXTENSION) == 10


@pytest.mark.parametrize("char", sorted(gsm0338.BASIC))
def test_each_basic_character_of_the_standard_costs_one_septet(char):
    count = count_segments(char * 160)
    assert (count.encoding, count.units, count.segments) == ("GSM-7", 160, 1)


@pytest.mark.parametrize("char", sorted(gsm0338.EXTENSION))
def test_each_extension_character_costs_two_septets(char):
    count = count_segments(char)
    assert (count.encoding, count.units) == ("GSM-7", 2)
    assert count_segments(char * 80).segments == 1
    assert count_segments(char * 81).segments == 2


OUTSIDE_THE_STANDARD = [
    ch
    for ch in [chr(code) for code in range(0x800)] + list("‘’“”–…😀")
    if ch not in gsm0338.BASIC and ch not in gsm0338.EXTENSION
]


def test_no_character_outside_the_standard_counts_as_gsm7():
    counted_as_gsm7 = [
        f"U+{ord(ch):04X}" for ch in OUTSIDE_THE_STANDARD if count_segments(ch).encoding != "UCS-2"
    ]
    assert counted_as_gsm7 == []


def test_the_table_the_code_exports_is_the_standards():
    assert sorted(GSM7_BASIC) == sorted(gsm0338.BASIC)
    assert sorted(GSM7_EXTENSION) == sorted(gsm0338.EXTENSION)


TRICKY_TEXTS = [
    "",
    "a" * 160,
    "a" * 161,
    "a" * 306,
    "a" * 307,
    "€" * 80,
    "€" * 81,
    "a" * 152 + "€" + "a" * 152,
    "{[~]}|^\\ and a form feed \f",
    "ł" + "a" * 69,
    "ł" + "a" * 134,
    "😀" + "a" * 69,
    "ł" * 66 + "😀" + "ł" * 66,
    "a\u00a0b",
    "Line one\r\nLine two",
    "Über: Ä Ö Ñ Ü à é è ΔΦΓΛΩΠΨΣΘΞ £$¥ @ ¿¡ § ¤ _ Ø ø Å å Æ æ ß É Ç ù ì ò",
    "It’s “quoted” — with an ellipsis…",
    "Ça va, façade",
]


@pytest.mark.parametrize("text", TRICKY_TEXTS, ids=range(len(TRICKY_TEXTS)))
def test_tricky_texts_count_as_the_standard_says(text):
    count = count_segments(text)
    assert (count.encoding, count.units, count.segments, count.capacity) == (
        gsm0338.expected_count(text)
    )


def test_eighty_euro_signs_fill_one_segment_and_eighty_one_need_two():
    assert (count_segments("€" * 80).units, count_segments("€" * 80).segments) == (160, 1)
    assert (count_segments("€" * 81).units, count_segments("€" * 81).segments) == (162, 2)


def test_an_escape_pair_is_not_cut_between_parts():
    # 306 septets would fit 2 × 153, but the € at septets 153-154 moves whole into part two.
    count = count_segments("a" * 152 + "€" + "a" * 152)
    assert (count.units, count.segments) == (306, 3)


@pytest.mark.parametrize(
    ("length", "segments", "remaining"), [(70, 1, 0), (71, 2, 63), (134, 2, 0), (135, 3, 66)]
)
def test_ucs2_fits_70_alone_and_67_per_part(length, segments, remaining):
    count = count_segments("ł" + "a" * (length - 1))
    assert (count.encoding, count.units, count.segments) == ("UCS-2", length, segments)
    assert count.remaining == remaining


def test_an_emoji_is_two_utf16_units_and_names_itself_as_the_culprit():
    count = count_segments("😀" + "a" * 69)
    assert (count.encoding, count.units, count.segments) == ("UCS-2", 71, 2)
    assert count.ucs2_culprit == "😀"


def test_a_surrogate_pair_is_not_cut_between_parts():
    count = count_segments("ł" * 66 + "😀" + "ł" * 66)
    assert (count.units, count.segments) == (134, 3)


def test_the_first_character_outside_gsm7_is_the_culprit():
    count = count_segments("Dzień dobry, pan Michał")
    assert count.encoding == "UCS-2"
    assert count.ucs2_culprit == "ń"
    assert count_segments("łódź").ucs2_culprit == "ł"


def test_gsm7_accents_and_greek_stay_gsm7():
    assert count_segments("Über: Ä Ö Ñ Ü à é è ΔΦΓΛΩΠΨΣΘΞ £$¥ @ ¿¡ §").encoding == "GSM-7"


def test_empty_text_is_no_segment():
    count = count_segments("")
    assert (count.encoding, count.units, count.segments, count.remaining) == ("GSM-7", 0, 0, 160)


def test_the_counter_text():
    assert describe(count_segments("a" * 42)) == "42 / 160 · 1 segment · GSM-7"
    assert describe(count_segments("a" * 161)) == "161 / 306 · 2 segments · GSM-7"
    assert describe(count_segments("😀" + "a" * 69)) == (
        "71 / 134 · 2 segments · UCS-2 because of “😀”"
    )
    # An invisible culprit (here a no-break space pasted from a document) is named by code point.
    assert describe(count_segments("a\u00a0b")).endswith("UCS-2 because of U+00A0")
    assert describe(count_segments("a" * 161), Decimal("0.0075")).endswith(" · ≈ $0.0150")
    assert describe(count_segments(""), Decimal("0.0075")) == "0 / 160 · 0 segments · GSM-7"


def test_the_price_per_segment_is_the_setting_and_unknown_when_empty(settings):
    settings.SMS_PRICE_PER_SEGMENT = ""
    assert price_per_segment() is None
    settings.SMS_PRICE_PER_SEGMENT = "0.0075"
    assert price_per_segment() == Decimal("0.0075")
    settings.SMS_PRICE_PER_SEGMENT = "about a cent"
    assert price_per_segment() is None


def _form(message: str) -> SendForm:
    did = Did(did_sid="sid", phonenumber=OUR_DID, active_capabilities=7)
    data = {"from_did": OUR_DID, "to_did": "+1 516 206 5574", "message": message}
    return SendForm(data, dids=[did])


@pytest.mark.django_db  # the form checks the opt-out list
def test_the_form_sends_long_messages_up_to_its_limit():
    form = _form("a" * MAX_MESSAGE_LENGTH)
    assert form.is_valid(), form.errors
    assert count_segments(form.cleaned_data["message"]).segments == 11
    assert not _form("a" * (MAX_MESSAGE_LENGTH + 1)).is_valid()


@pytest.mark.django_db
def test_line_breaks_arrive_as_one_septet_each_as_the_counter_counts_them():
    form = _form("Line one\r\nLine two")
    assert form.is_valid(), form.errors
    assert form.cleaned_data["message"] == "Line one\nLine two"
    assert count_segments(form.cleaned_data["message"]).units == 17


# The pages


@pytest.fixture
def our_did(db) -> Did:
    return Did.objects.create(did_sid="sid-575", phonenumber=OUR_DID, active_capabilities=7)


def _table_on(page: str, table_id: str = "id_message-segments") -> dict:
    match = re.search(rf'<script id="{table_id}" type="application/json">(.*?)</script>', page)
    assert match, f"no {table_id} data block"
    return json.loads(match.group(1))


def _textarea(page: str) -> str:
    match = re.search(r"<textarea [^>]*>", page)
    assert match
    return match.group(0)


def test_the_send_page_gives_the_browser_the_python_table(sender_client, our_did):
    page = sender_client.get(reverse("messaging:send")).content.decode()
    table = _table_on(page)
    assert table == segment_table()
    assert sorted(table["basic"]) == sorted(gsm0338.BASIC)
    assert sorted(table["extension"]) == sorted(gsm0338.EXTENSION)
    assert table["limits"] == {"GSM-7": [160, 153], "UCS-2": [70, 67]}


def test_the_send_page_has_the_counter_under_the_message_box(sender_client, our_did, settings):
    settings.SMS_PRICE_PER_SEGMENT = ""
    page = sender_client.get(reverse("messaging:send")).content.decode()
    textarea = _textarea(page)
    assert 'data-composer="id_message-segments"' in textarea
    assert 'data-composer-counter="id_message-counter"' in textarea
    assert 'aria-describedby="id_message-counter"' in textarea
    assert "data-price-per-segment" not in textarea
    assert (
        '<p id="id_message-counter" class="composer-counter" aria-live="polite">'
        "0 / 160 · 0 segments · GSM-7</p>"
    ) in page
    assert page.index("<textarea") < page.index('id="id_message-counter"')
    assert "js/composer.js" in page


def test_a_known_price_reaches_the_message_box(sender_client, our_did, settings):
    settings.SMS_PRICE_PER_SEGMENT = "0.0075"
    page = sender_client.get(reverse("messaging:send")).content.decode()
    assert 'data-price-per-segment="0.0075"' in _textarea(page)


def test_a_rejected_send_shows_the_servers_count_of_the_typed_text(sender_client, our_did):
    response = sender_client.post(
        reverse("messaging:send"),
        {"from_did": OUR_DID, "to_did": "not a number", "message": "Zażółć 😀"},
    )
    assert response.status_code == 422
    assert "9 / 70 · 1 segment · UCS-2 because of “ż”" in response.content.decode()


def test_the_reply_box_has_the_counter_too(client, our_did):
    client.force_login(make_user("ines", "Inbox staff"))
    Conversation.objects.create(customer_number=CUSTOMER, last_activity_at=timezone.now())
    page = client.get(reverse("messaging:conversation", args=[CUSTOMER])).content.decode()
    assert 'data-composer="id_message-segments"' in _textarea(page)
    assert 'id="id_message-counter" class="composer-counter" aria-live="polite"' in page
    assert _table_on(page) == segment_table()
