"""The webhook's gate at its edges, where mutation testing (docs/mutation-testing.md) found the
suite silent: the depth limit at exactly 32 levels, how a refused body is filed, and an MMS's
files, group and type, kept when usable and dropped with the reason when not."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from messaging.models import Message
from messaging.validation import MAX_DEPTH
from tests.conftest import load_fixture
from tests.webhook_checks import last_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def post(webhook_url):
    client = Client(enforce_csrf_checks=True)

    def send(payload: dict):
        body = json.dumps(payload).encode()
        return body, client.post(webhook_url, data=body, content_type="application/json")

    return send


def lists(levels: int) -> list:
    """`levels` lists, each inside the next: `[[[]]]` for 3."""
    value: list = []
    for _ in range(levels - 1):
        value = [value]
    return value


def inbound(**extra) -> dict:
    return {**load_fixture("inbound_legacy"), **extra}


def test_a_body_nesting_exactly_the_limit_is_stored(post):
    # The body is level 1; a spare `[]` makes the brackets outnumber the limit, so depth is counted.
    body, response = post(inbound(deep=lists(MAX_DEPTH - 1), spare=[]))

    assert response.status_code == 200, response.content
    assert Message.objects.get().body == "This is a test message delivered by CarrierX"
    assert not last_event().rejected


def test_a_body_nesting_one_level_past_the_limit_is_refused_and_kept(post):
    body, response = post(inbound(deep=lists(MAX_DEPTH)))

    assert response.status_code == 400
    assert response.json()["error"] == f"body nests deeper than {MAX_DEPTH} levels"
    event = last_event()
    assert event.rejected and event.raw_bytes() == body
    assert not Message.objects.exists()


def test_a_shallow_body_with_more_brackets_than_the_limit_is_stored(post):
    body, response = post(inbound(flat=[[] for _ in range(MAX_DEPTH * 2)]))

    assert response.status_code == 200, response.content
    assert Message.objects.count() == 1


def test_a_refused_body_is_filed_under_its_message_sid_and_status(post):
    body, response = post(inbound(status="delivered", price="not money"))

    assert response.status_code == 422
    event = last_event()
    assert event.rejected
    assert event.message_sid == "e405fa47-48f5-4dc5-bbba-77231587188e"
    assert event.status == "delivered"
    assert event.outcome == "rejected 422: price 'not money' is not a decimal"
    assert event.body == body.decode()


def test_a_long_bad_value_is_quoted_to_its_first_24_characters_in_the_reason(post):
    body, response = post(inbound(price="abcdefghijklmnopqrstuvwxyz"))

    assert response.status_code == 422
    reason = "price 'abcdefghijklmnopqrstuvwx'… is not a decimal"
    assert response.json()["error"] == reason
    assert last_event().outcome == f"rejected 422: {reason}"


@pytest.mark.parametrize(
    "payload",
    [[1, 2], {"message_sid": 123, "status": ["delivered"]}],
    ids=["not an object", "labels not strings"],
)
def test_a_refused_body_without_a_clean_sid_or_status_is_filed_under_none(post, payload):
    body, response = post(payload)

    assert response.status_code in (400, 422)
    event = last_event()
    assert event.rejected and event.raw_bytes() == body
    assert (event.message_sid, event.status) == ("", "")


def test_nan_is_refused_with_the_constant_named(webhook_url):
    body = b'{"message_sid": "m-1", "price": NaN}'
    response = Client().post(webhook_url, data=body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"] == "body is not valid JSON: NaN is not a number"
    assert last_event().raw_bytes() == body


def test_a_refusal_longer_than_its_column_is_kept_whole_in_the_answer_and_cut_in_the_event(post):
    sid = "s" * 64
    odd = "abcdefghijklmnopqrstuvwxyz"
    body, response = post({"message_sid": sid, "from": odd, "to": odd, "direction": odd})

    assert response.status_code == 422
    reason = response.json()["error"]
    assert reason.startswith(f"no message '{sid}' to apply it to, and from ")
    assert len(f"rejected 422: {reason}") > 200
    assert last_event().outcome == f"rejected 422: {reason}"[:200]


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("price", "a" * 24, "price 'aaaaaaaaaaaaaaaaaaaaaaaa' is not a decimal"),
        ("price", "a" * 25, "price 'aaaaaaaaaaaaaaaaaaaaaaaa'… is not a decimal"),
        ("price", True, "price must be a decimal, not true"),
        ("price", [1], "price must be a decimal, not a JSON list"),
        ("price", {"usd": 1}, "price must be a decimal, not a JSON dict"),
        ("message_segments", 2**63 - 1, f"message_segments {2**63 - 1} is out of range"),
        ("message_segments", 2**63, "message_segments a number is out of range"),
    ],
    ids=["24 characters", "25 characters", "boolean", "list", "object", "63 bits", "64 bits"],
)
def test_a_refusal_quotes_the_value_it_refused_bounded_by_its_type(post, field, value, reason):
    body, response = post(inbound(**{field: value}))

    assert response.status_code == 422
    assert response.json()["error"].startswith(reason)


@pytest.mark.parametrize(
    ("digits", "shown"),
    [
        ("1234567890123456789012.5", "1234567890123456789012.5"),  # 24 characters: too long
        ("123456789012345678901.5", "123456789012345678901.5"),  # 23: quoted
    ],
)
def test_a_price_out_of_range_is_quoted_only_when_short(webhook_url, digits, shown):
    body = b'{"message_sid": "m-1", "status": "sent", "price": ' + digits.encode() + b"}"
    response = Client().post(webhook_url, data=body, content_type="application/json")

    assert response.status_code == 422
    quoted = shown if len(shown) < 24 else "a number"
    assert response.json()["error"] == f"price {quoted} is out of range (under 100000)"


# --- an MMS's fields: kept when usable, dropped with the reason recorded when not ----------------

FILE = "https://media.carrierx.test/f/"


@pytest.mark.parametrize(
    ("extra", "kind", "files", "group"),
    [
        ({"media_urls": [f"{FILE}1.jpg", "HTTP://media.carrierx.test/2.png"]}, "mms", 2, []),
        ({"media_urls": [f"{FILE}{n}.jpg" for n in range(20)]}, "mms", 20, []),
        ({"media_urls": [FILE + "x" * (2000 - len(FILE))]}, "mms", 1, []),
        ({"media_urls": None, "type": "mms"}, "mms", 0, []),
        ({"type": "sms"}, "sms", 0, []),
        (
            {"group_recipients": ["15162065580", " 15162065581 "]},
            "mms",
            0,
            ["15162065580", "15162065581"],
        ),
        ({"group_recipients": [str(15162065500 + n) for n in range(20)]}, "mms", 0, 20),
    ],
    ids=[
        "two files",
        "20 files",
        "a URL of 2000 characters",
        "type mms",
        "type sms",
        "group",
        "group of 20",
    ],
)
def test_an_mms_with_usable_fields_is_stored_with_its_kind_files_and_group(
    post, extra, kind, files, group
):
    body, response = post(inbound(**extra))

    assert response.status_code == 200, response.content
    message = Message.objects.get()
    assert (message.kind, message.media_count) == (kind, files)
    if isinstance(group, int):
        assert len(message.group_recipients) == group
    else:
        assert message.group_recipients == group
    assert last_event().outcome == "new inbound message (received)"


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        (
            {"media_urls": f"{FILE}1.jpg"},
            "media_urls dropped: must be a list, not 'https://media.carrierx.t'…",
        ),
        (
            {"media_urls": [f"{FILE}{n}.jpg" for n in range(21)]},
            "media_urls dropped: lists 21 files; at most 20 are kept",
        ),
        (
            {"media_urls": ["ftp://media.carrierx.test/1.jpg"]},
            "media_urls dropped: 'ftp://media.carrierx.tes'… is not an http(s) URL",
        ),
        (
            {"media_urls": [FILE + "x" * (2001 - len(FILE))]},
            "media_urls dropped: longer than 2000 characters",
        ),
        ({"media_urls": [7]}, "media_urls dropped: must be a string, not 7"),
        (
            {"group_recipients": "15162065580"},
            "group_recipients dropped: must be a list, not '15162065580'",
        ),
        (
            {"group_recipients": [str(15162065500 + n) for n in range(21)]},
            "group_recipients dropped: lists 21 numbers; a group has at most 20",
        ),
        (
            {"group_recipients": ["call me"]},
            "group_recipients dropped: 'call me' is not a phone number",
        ),
        ({"type": "fax"}, "type dropped: 'fax' is neither sms nor mms"),
        ({"type": "MMS"}, "type dropped: 'MMS' is neither sms nor mms"),
    ],
    ids=[
        "files not a list",
        "21 files",
        "not http",
        "a URL of 2001 characters",
        "a URL not a string",
        "group not a list",
        "group of 21",
        "group member not a number",
        "type fax",
        "type in capitals",
    ],
)
def test_an_mms_field_that_cannot_be_used_is_dropped_with_its_reason_and_the_text_kept(
    post, extra, reason
):
    body, response = post(inbound(**extra))

    assert response.status_code == 200, response.content
    message = Message.objects.get()
    assert message.body == "This is a test message delivered by CarrierX"
    assert (message.kind, message.media_count, message.group_recipients) == ("sms", 0, [])
    assert last_event().outcome == f"new inbound message (received); {reason}"
