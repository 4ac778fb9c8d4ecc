"""The webhook's gate value by value, where mutation testing (docs/mutation-testing.md, run 3)
found the suite silent: whole numbers as strings and decimals and at their limits, dates at their
length limit and in other zones, prices at theirs, numbers written every way the carrier or a
person writes them, and the exact reason each refusal gives the carrier and keeps in the event."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.test import Client

from messaging.models import Message
from tests.conftest import load_fixture
from tests.webhook_checks import last_event

pytestmark = pytest.mark.django_db

SID = "e405fa47-48f5-4dc5-bbba-77231587188e"  # inbound_legacy.json's
# A status callback for a message we never saw: made into an outbound row, its status applied.
OUTBOUND = {
    "message_sid": "out-1",
    "direction": "outbound",
    "from": "15162065575",
    "to": "15550008888",
    "status": "sent",
}


@pytest.fixture
def post(webhook_url):
    """POST an inbound text (or `base`) with `raw` JSON spliced in as written, so a value the
    json module would rewrite (a float, a long string) reaches the webhook exactly."""
    client = Client()

    def send(raw: dict[str, str] | None = None, base: dict | None = None, **fields):
        payload = {**(load_fixture("inbound_legacy") if base is None else base), **fields}
        for key in raw or {}:
            payload.pop(key, None)
        body = json.dumps(payload)[:-1]
        body += "".join(f', "{key}": {value}' for key, value in (raw or {}).items()) + "}"
        return client.post(webhook_url, data=body.encode(), content_type="application/json")

    return send


def refusal(response) -> str:
    assert response.status_code == 422, response.content
    reason = response.json()["error"]
    assert last_event().rejected and last_event().outcome == f"rejected 422: {reason}"[:200]
    return reason


# --- whole numbers: segments, and the network codes -----------------------------------------


@pytest.mark.parametrize(
    ("raw", "segments"),
    [
        ('"3"', 3),
        ('" 3 "', 3),
        ("3.0", 3),
        ("2147483647.0", 2147483647),
        ("2147483647", 2147483647),
        ("0", 0),
        ('""', None),
    ],
    ids=[
        "digits",
        "digits spaced",
        "decimal",
        "decimal at the limit",
        "at the limit",
        "0",
        "empty",
    ],
)
def test_segments_written_as_digits_or_a_whole_decimal_are_stored_as_that_number(
    post, raw, segments
):
    response = post({"message_segments": raw})

    assert response.status_code == 200, response.content
    assert Message.objects.get().segments == segments


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("1.5", "must be a whole number, not 1.5"),
        ('"1234567890123"', "'1234567890123' is out of range (0 to 2147483647)"),
        (f'"{"9" * 5000}"', "'999999999999999999999999'… is out of range (0 to 2147483647)"),
        ("1000000000000.0", "1000000000000.0 is out of range (0 to 2147483647)"),
        ("2147483648", "2147483648 is out of range (0 to 2147483647)"),
        ("-1", "-1 is out of range (0 to 2147483647)"),
    ],
    ids=["a fraction", "13 digits", "5000 digits", "a large decimal", "one past", "negative"],
)
def test_segments_that_are_not_a_whole_number_in_range_are_refused_with_the_value(
    post, raw, reason
):
    assert refusal(post({"message_segments": raw})) == f"message_segments {reason}"
    assert not Message.objects.exists()


def test_a_segment_count_with_a_huge_exponent_is_refused_without_being_expanded(post):
    # 1E+999999 as an int has a million digits: building it takes about a minute.
    reason = refusal(post({"message_segments": "1E+999999"}))

    assert reason == "message_segments 1E+999999 is out of range (0 to 2147483647)"


def test_network_codes_reported_by_the_carrier_are_stored(post):
    response = post({"mcc": '"310"', "mnc": "260.0"})

    assert response.status_code == 200, response.content
    assert (Message.objects.get().mcc, Message.objects.get().mnc) == (310, 260)


def test_network_codes_at_their_three_digit_limit_are_stored_and_past_it_dropped(post):
    post({"mcc": "999.0", "mnc": "999"})
    post({"mcc": "1000", "mnc": '"1000"'}, message_sid="second")

    first, second = Message.objects.order_by("id")
    assert (first.mcc, first.mnc) == (999, 999)
    assert (second.mcc, second.mnc) == (None, None)
    assert last_event().outcome == (
        "new inbound message (received); mcc dropped: 1000 is out of range (0 to 999); "
        "mnc dropped: '1000' is out of range (0 to 999)"
    )


# --- dates -------------------------------------------------------------------------------------


def status_date(post, raw: str):
    response = post({"date_status_changed": raw}, base=OUTBOUND)
    assert response.status_code == 200, response.content
    return Message.objects.get().status_changed_at


def test_a_status_date_with_an_offset_is_stored_as_that_moment_in_utc(post):
    when = status_date(post, '"2023-12-06T10:18:30-05:00"')

    assert when == datetime(2023, 12, 6, 15, 18, 30, tzinfo=UTC)


def test_a_status_date_without_an_offset_is_utc_whatever_the_portals_time_zone(post, settings):
    settings.TIME_ZONE = "America/New_York"

    assert status_date(post, '"2023-12-06T15:18:30"') == datetime(
        2023, 12, 6, 15, 18, 30, tzinfo=UTC
    )


def test_a_status_date_of_forty_characters_is_read_and_of_forty_one_refused(post):
    forty = " " * 8 + "2023-12-06T15:18:30.123456+00:00"
    assert len(forty) == 40

    assert status_date(post, json.dumps(forty)) == datetime(
        2023, 12, 6, 15, 18, 30, 123456, tzinfo=UTC
    )
    reason = refusal(post({"date_status_changed": json.dumps(" " + forty)}, message_sid="2"))
    assert reason == "date_status_changed longer than 40 characters"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("20231206", "must be a date string, not 20231206"),
        ('"2023-12-06T25:00:00Z"', "'2023-12-06T25:00:00Z' is not a valid date and time"),
        ('"0001-01-01T00:00:00+14:00"', "'0001-01-01T00:00:00+14:0'… is out of range"),
        ('"9999-06-01T00:00:00Z"', "'9999-06-01T00:00:00Z' is out of range (1970–9998)"),
    ],
    ids=["a number", "hour 25", "before year 1 in UTC", "year 9999"],
)
def test_a_status_date_that_cannot_be_used_is_refused_with_the_value(post, raw, reason):
    assert refusal(post({"date_status_changed": raw})) == f"date_status_changed {reason}"


def test_an_empty_status_date_is_no_date(post):
    assert status_date(post, '""') is not None  # the time it arrived, as with none at all


# --- prices ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "price"),
    [
        ('"0.0075"', Decimal("0.00750")),
        (json.dumps("0." + "0" * 37 + "1"), Decimal("0")),  # 40 characters
        ('""', None),
        ('"99999.999994"', Decimal("99999.99999")),
    ],
    ids=["a price", "40 characters", "empty", "just under the limit"],
)
def test_a_price_the_column_holds_is_stored_rounded_to_five_places(post, raw, price):
    response = post({"price": raw})

    assert response.status_code == 200, response.content
    assert Message.objects.get().price == price


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (json.dumps("0." + "0" * 38 + "1"), "longer than 40 characters"),
        ('"NaN"', "'NaN' is not a finite amount"),
        ('"99999.999996"', "'99999.999996' is out of range (under 100000)"),
        ('"100000"', "'100000' is out of range (under 100000)"),
    ],
    ids=["41 characters", "not a number", "rounds up to the limit", "at the limit"],
)
def test_a_price_the_column_cannot_hold_is_refused_with_the_value(post, raw, reason):
    assert refusal(post({"price": raw})) == f"price {reason}"
    assert not Message.objects.exists()


# --- phone numbers -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "stored"),
    [
        ("123", "123"),
        ("12345678", "12345678"),
        ("15550109999", "15550109999"),
        ("5550109999", "15550109999"),
        ("555 010-9999", "15550109999"),
        ("447911123456", "447911123456"),
        ("49301234567", "49301234567"),
    ],
    ids=["3-digit short code", "8-digit short code", "NANP", "ten digits", "dialled", "UK", "DE"],
)
def test_a_number_is_stored_as_the_carriers_digits(post, number, stored):
    response = post(from_did=number)

    assert response.status_code == 200, response.content
    assert Message.objects.get().their_number == stored


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("123456789", "'123456789' is not a possible phone number"),
        ("123456789012", "'123456789012' is not a possible phone number"),
        ("21234567890", "'21234567890' is not a possible phone number"),
        ("+999 123 4567", "'+999 123 4567' is not a phone number"),
        (15162065319, "must be a string, not 15162065319"),
    ],
    ids=["9 digits", "12 digits after a 1", "11 digits not after a 1", "no country", "a number"],
)
def test_a_new_message_from_a_number_that_cannot_be_one_is_refused_with_the_value(
    post, number, reason
):
    problem = refusal(post(from_did=number))

    assert problem == f"no message {SID!r} to apply it to, and from_did {reason}"


def test_an_empty_from_falls_back_to_from_did(post):
    response = post(**{"from": ""})

    assert response.status_code == 200, response.content
    assert Message.objects.get().their_number == "15162065319"


def test_every_problem_with_a_new_message_is_named_in_one_refusal(post):
    reason = refusal(post(from_did="x", to_did="y", direction="sideways"))

    assert reason == (
        f"no message {SID!r} to apply it to, and from_did 'x' is not a phone number; "
        "to_did 'y' is not a phone number; direction 'sideways' is neither inbound nor outbound"
    )


# --- text, and what is not an SMS object -------------------------------------------------------


def test_a_text_without_a_message_is_stored_with_an_empty_body(post):
    payload = load_fixture("inbound_legacy")
    del payload["message"]

    assert post(base=payload).status_code == 200
    assert Message.objects.get().body == ""


def test_a_message_that_is_not_a_string_is_dropped_with_its_reason(post):
    assert post({"message": "7"}).status_code == 200

    assert Message.objects.get().body == ""
    assert last_event().outcome == (
        "new inbound message (received); message dropped: must be a string, not 7"
    )


@pytest.mark.parametrize("sid", ['""', '" "'])
def test_an_empty_message_sid_is_refused(post, sid):
    assert refusal(post({"message_sid": sid})) == "message_sid is empty"


@pytest.mark.parametrize("body", [b"[1, 2]", b'"text"', b"7"])
def test_a_body_that_is_not_an_object_is_refused_as_not_the_sms_object(webhook_url, body):
    response = Client().post(webhook_url, data=body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"] == "body must be a JSON object (the SMS object)"
    assert last_event().raw_bytes() == body
