"""The webhook's one validation step, probed with the exact bodies from issue 10: each can never
succeed (4xx, its bytes still kept as a rejected event) or is stored with only usable values, and
none leaves a page broken."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.test import Client

from messaging.models import CarrierEvent, Conversation, Message
from tests.conftest import load_fixture
from tests.webhook_checks import assert_pages_answer_and_export_holds_every_message, last_event

pytestmark = pytest.mark.django_db

POISON = {
    "message_sid": "poison-1",
    "direction": "outbound",
    "from": "15162065575",
    "to": "15550008888",
    "status": "sent",
}


@pytest.fixture
def carrier(webhook_url):
    """POST raw bytes as the carrier would; returns the response."""
    client = Client(enforce_csrf_checks=True)

    def send(body: bytes | str | dict):
        if isinstance(body, dict):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode("utf-8", "surrogatepass")
        return client.post(webhook_url, data=body, content_type="application/json")

    return send


def inbound(**changes) -> dict:
    payload = load_fixture("inbound_legacy")
    payload.update(changes)
    return payload


def assert_rejected_and_kept(response, body: bytes, status: int, reason: str) -> None:
    assert response.status_code == status, response.content
    assert reason in response.json()["error"]
    event = last_event()
    assert event.rejected and event.raw_bytes() == body
    assert reason in event.outcome


def test_a_body_with_only_a_message_sid_is_refused_and_the_inbox_still_answers(carrier):
    response = carrier('{"message_sid":"x"}')
    assert_rejected_and_kept(response, b'{"message_sid":"x"}', 422, "no message 'x'")
    assert not Message.objects.exists() and not Conversation.objects.exists()
    assert_pages_answer_and_export_holds_every_message()


@pytest.mark.parametrize(
    "number", ["", "1555/0109999", "<svg/onload=alert()>", "=cmd|'/C calc'!A0", "1516\x00", "x"]
)
def test_a_new_message_from_a_number_that_is_not_one_is_refused_and_kept(carrier, number):
    body = json.dumps(inbound(from_did=number)).encode()
    assert_rejected_and_kept(carrier(body), body, 422, "from_did")
    assert not Message.objects.exists()
    assert_pages_answer_and_export_holds_every_message()


@pytest.mark.parametrize("number", [["1"], 15162065319, True, {"n": "1"}, None])
def test_a_number_sent_as_a_list_number_boolean_object_or_null_is_refused(carrier, number):
    body = json.dumps(inbound(from_did=number)).encode()
    assert_rejected_and_kept(carrier(body), body, 422, "from_did")


def test_a_typed_number_is_stored_as_carrier_digits_and_one_customer_has_one_conversation(
    carrier,
):
    assert carrier(inbound(from_did="+1 (555) 010-9999", message_sid="a")).status_code == 200
    assert carrier(inbound(from_did="15550109999", message_sid="b")).status_code == 200
    assert carrier(inbound(**{"from": "1-555-010-9999"}, message_sid="c")).status_code == 200
    assert set(Message.objects.values_list("their_number", flat=True)) == {"15550109999"}
    assert list(Conversation.objects.values_list("customer_number", flat=True)) == ["15550109999"]
    assert_pages_answer_and_export_holds_every_message()


def test_a_short_code_is_a_number(carrier):
    assert carrier(inbound(from_did="24273")).status_code == 200
    assert Message.objects.get().their_number == "24273"


def test_a_price_over_ten_digits_is_refused_and_poisons_nothing(carrier):
    body = json.dumps({**POISON, "price": "12345678901"}).encode()
    assert_rejected_and_kept(carrier(body), body, 422, "price")
    delivered = {**POISON, "status": "delivered", "price": "0.0075"}
    assert carrier(delivered).status_code == 200
    assert Message.objects.get().price == Decimal("0.00750")
    assert_pages_answer_and_export_holds_every_message()


@pytest.mark.parametrize(
    "raw_price",
    [
        *['"NaN"', "NaN", "Infinity", "-Infinity", '"Infinity"', "1e400", "true", "[1]"],
        *["1E+1000000", "-1E+999999999", '"1E+1000000"'],  # arithmetic on these overflows
    ],
)
def test_a_price_that_is_not_a_finite_amount_is_refused(carrier, raw_price):
    body = json.dumps(POISON)[:-1].encode() + b', "price": ' + raw_price.encode() + b"}"
    response = carrier(body)
    assert response.status_code in (400, 422)
    assert last_event().rejected and last_event().raw_bytes() == body
    assert not Message.objects.exists()


@pytest.mark.parametrize("field", ["message_segments"])
@pytest.mark.parametrize("value", [-1, 2**63, 2**31, "1.5", True])
def test_segments_out_of_range_or_not_whole_are_refused(carrier, field, value):
    body = json.dumps({**POISON, field: value}).encode()
    assert_rejected_and_kept(carrier(body), body, 422, field)


@pytest.mark.parametrize("raw", ["1E+1000000", "-1E+1000000", "1E+13", "1E-1000000", "9.9E+999999"])
def test_segments_written_with_a_huge_exponent_are_refused_not_a_500(carrier, raw):
    # A JSON number the decimal context cannot make whole (to_integral_value overflows).
    body = json.dumps(POISON)[:-1].encode() + b', "message_segments": ' + raw.encode() + b"}"
    assert_rejected_and_kept(carrier(body), body, 422, "message_segments")


@pytest.mark.parametrize("field", ["mcc", "mnc"])
@pytest.mark.parametrize("value", [-1, 2**63, "31O", [310]])
def test_a_network_code_out_of_range_is_dropped_with_its_reason(carrier, field, value):
    response = carrier({**POISON, field: value})
    assert response.status_code == 200
    assert getattr(Message.objects.get(), field) is None
    assert f"{field} dropped" in last_event().outcome


@pytest.mark.parametrize("field", ["mcc", "mnc"])
def test_a_network_code_with_a_huge_exponent_is_dropped_not_a_500(carrier, field):
    body = json.dumps(POISON)[:-1].encode() + f', "{field}": 1E+1000000}}'.encode()
    assert carrier(body).status_code == 200
    assert getattr(Message.objects.get(), field) is None
    assert f"{field} dropped" in last_event().outcome


@pytest.mark.parametrize(
    "when",
    [20231206, ["2023-12-06T15:18:30Z"], "2023-12-06T25:00:00Z", "0001-01-01T00:00:00+14:00"],
)
def test_a_status_date_that_is_not_a_valid_storable_date_string_is_refused(carrier, when):
    body = json.dumps({**POISON, "date_status_changed": when}).encode()
    assert_rejected_and_kept(carrier(body), body, 422, "date_status_changed")


def test_json_nested_five_thousand_deep_is_refused_and_kept(carrier):
    body = b'{"message_sid": "deep", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    assert_rejected_and_kept(carrier(body), body, 400, "deeper")


def test_a_lone_surrogate_escape_in_the_text_is_stored_as_a_replacement_character(carrier):
    body = json.dumps(inbound(message="hi \ud800 there")).encode()
    assert b"\\ud800" in body
    assert carrier(body).status_code == 200
    assert Message.objects.get().body == "hi \ufffd there"
    assert last_event().raw_bytes() == body
    assert_pages_answer_and_export_holds_every_message()


def test_a_lone_surrogate_as_raw_bytes_is_not_utf8_and_is_kept_exactly(carrier):
    body = json.dumps(inbound(message="hi \ud800"), ensure_ascii=False).encode(
        "utf-8", "surrogatepass"
    )
    assert_rejected_and_kept(carrier(body), body, 400, "not UTF-8")


def test_a_nul_escape_in_the_text_is_stored_as_a_replacement_character(carrier):
    assert carrier(inbound(message="a\x00b")).status_code == 200
    assert Message.objects.get().body == "a\ufffdb"
    assert_pages_answer_and_export_holds_every_message()


def test_a_raw_nul_byte_is_refused_and_its_bytes_kept_exactly(carrier):
    body = json.dumps(inbound()).encode().replace(b'"status"', b'"sta\x00tus"')
    assert_rejected_and_kept(carrier(body), body, 400, "not valid JSON")
    assert "\x00" not in last_event().body


@pytest.mark.parametrize("user_data", ["portal-message-²", "portal-message-" + "9" * 40])
def test_user_data_naming_no_possible_row_makes_a_row_of_its_own(carrier, user_data):
    payload = {**load_fixture("status_delivered"), "user_data": user_data}
    assert carrier(payload).status_code == 200
    assert Message.objects.get().status == "delivered"


def test_a_status_callback_for_a_message_we_hold_needs_no_numbers(carrier):
    assert carrier(load_fixture("status_delivered")).status_code == 200
    sid = load_fixture("status_delivered")["message_sid"]
    response = carrier({"message_sid": sid, "status": "delivered", "to": "<svg>"})
    assert response.status_code == 200
    assert CarrierEvent.objects.filter(rejected=False).count() == 2


def test_the_partners_number_updates_without_a_message_sid_are_kept_and_acknowledged(carrier):
    body = {"type": "phonenumber_messaging_update", "phonenumber": "15162065575"}
    assert carrier(body).status_code == 200
    assert not last_event().rejected
