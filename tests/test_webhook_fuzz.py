"""The webhook under fuzzed bodies: the carrier's own payloads with fields removed, retyped,
oversized and byte-damaged (issue 10), and with MMS fields (`media_urls`, `type`,
`group_recipients`: issue 14) retyped, oversized, listing up to 1,000 items, non-http schemes and
private addresses. No answer is a 5xx, every answered body is kept byte for byte, only http(s)
URLs become files to download, and afterwards every page listing what arrived answers (files
pending download included), the export holding every message.

Seeded (derandomised), so a failure reproduces. `make test` posts a few thousand bodies;
WEBHOOK_FUZZ_EXAMPLES=20000 posts more. All examples share one test transaction, so the world
they leave behind (messages, conversations, rejected events) is checked as a whole at the end.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from messaging.models import CarrierEvent, ConsentEvent, Message, MessageMedia, OptOut
from messaging.services.opt_out import keyword
from messaging.validation import MAX_BODY_BYTES
from tests.conftest import FIXTURES
from tests.webhook_checks import assert_pages_answer_and_export_holds_every_message, last_event

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("WEBHOOK_FUZZ_EXAMPLES", "3000"))
SHARED = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "carrierx"


def _payloads() -> list[dict]:
    found: dict[str, dict] = {}
    for folder in (FIXTURES, SHARED):
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            payload = json.loads(path.read_text())
            found.setdefault(json.dumps(payload, sort_keys=True), payload)
    return list(found.values())


# An inbound MMS as the carrier documents its SMS object (CARRIERX-MORE.md §4.3): the base the
# MMS mutations start from most often, so many fuzzed bodies reach the files and the group.
INBOUND_MMS = {
    "date_created": "2021-04-21T17:42:55.000Z",
    "date_status_changed": "2021-04-21T17:42:55.000Z",
    "direction": "inbound",
    "from": "15162065319",
    "group_recipients": ["15162065580", "15162065581"],
    "media_urls": [
        "https://storage.carrierx.com/f/cdac0471-f144-42a2-94f8-d9838ce5e4b9",
        "https://storage.carrierx.com/f/5a0e1c52-8f0a-4c6a-9a47-0f3e2d1b7c11",
        "https://storage.carrierx.com/f/9d2b7e64-3c1f-4b8e-a1d5-6e7f8a9b0c2d",
    ],
    "message": "Photos of the damaged parcel",
    "message_segments": 1,
    "message_sid": "mms-0",
    "partner_sid": "QLJ79xlC2vP-UEx3hS0R4rldas8.G1UB",
    "price": "0.02",
    "status": "received",
    "to": "15162065318",
    "type": "mms",
}
# A customer's STOP, the base of the mutations that reach the keyword's standing and consent rows.
INBOUND_STOP = {
    "date_created": "2021-04-21T17:42:55.000Z",
    "date_status_changed": "2021-04-21T17:42:55.000Z",
    "direction": "inbound",
    "from": "15162065319",
    "message": "Stop",
    "message_segments": 1,
    "message_sid": "stop-0",
    "price": "0.0075",
    "status": "received",
    "to": "15162065318",
    "type": "sms",
}
PAYLOADS = [*_payloads(), INBOUND_MMS, INBOUND_STOP]
CHECKED = [
    "message_sid", "status", "direction", "from", "to", "from_did", "to_did", "price",
    "message_segments", "mcc", "mnc", "date_status_changed", "message", "user_data",
]  # fmt: skip
FIELDS = sorted({key for payload in PAYLOADS for key in payload} | set(CHECKED))
# A few SIDs, so damaged status callbacks land on messages earlier examples made.
SIDS = ["097b49df-c54e-4eaf-97d0-89cf7d5a655b", "e405fa47-48f5-4dc5-bbba-77231587188e", "s-1"]
PROBES = [
    "", "/", "1555/0109999", "<svg/onload=alert()>", "=cmd|'/C calc'!A0", "+1 (555) 010-9999",
    "1516\x00", "\ud800", "\udfff x", "NaN", "Infinity", "-1", "12345678901", "99999.999996",
    "2023-12-06T25:00:00Z", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "24273",
    "portal-message-1", "portal-message-²", "delivered", "received", "inbound", "outbound",
    "STOP", " stop! ", "Start.", "UNSUBSCRIBE",  # a keyword text writes the customer's standing
    2**63, -(2**63), 2**31, -1, 0, 1e308, True, False, None, [], {}, ["1"], {"a": [{"b": None}]},
]  # fmt: skip
# Exponents past the decimal context's limits (arithmetic on them overflows) and digits past
# Python's int-parsing limit.
HUGE_NUMBERS = [b"1E+1000000", b"-1E+999999999", b"1e-999999999", b"9" * 5000, b"0E+1000000"]
ints = st.integers(min_value=-(2**70), max_value=2**70)
values = st.one_of(
    st.sampled_from(PROBES),
    st.none(),
    st.booleans(),
    ints,
    st.floats(),  # NaN and infinities included: json.dumps writes them as bare words
    st.text(max_size=30),
    st.lists(st.one_of(ints, st.text(max_size=5)), max_size=3),
    st.dictionaries(st.text(max_size=5), st.one_of(ints, st.text(max_size=5)), max_size=3),
    st.integers(100, 70_000).map(lambda n: "x" * n),  # oversized
)

MMS_FIELDS = ["media_urls", "type", "group_recipients"]
URLS = [
    "https://storage.carrierx.com/f/cdac0471-f144-42a2-94f8-d9838ce5e4b9",
    "HTTP://EXAMPLE.COM/PHOTO.JPG", "http://127.0.0.1:8000/admin/", "http://localhost/x.png",
    "http://169.254.169.254/latest/meta-data/", "http://[::1]:22/", "http://10.0.0.7/a.jpg",
    "http://0x7f000001/", "file:///etc/passwd", "javascript:alert(1)", "data:image/png;base64,AA",
    "ftp://example.com/a.jpg", "gopher://x/", "//example.com/a.jpg", "https://", "http://\x00/",
    "https://example.com/<svg onload=alert()>.svg", "https://exa mple.com/ a b", "",
    "https://example.com/" + "a" * 2100,
]  # fmt: skip
urls = st.sampled_from(URLS) | st.text(max_size=40).map(lambda t: "https://example.com/" + t)
GROUP = ["15162065580", "+1 (516) 206-5581", "abc", "", "1" * 40, "15162065318\x00"]
mms_values = st.one_of(
    values,
    st.lists(urls, max_size=12),
    st.lists(st.one_of(urls, st.sampled_from(PROBES)), max_size=5),
    st.sampled_from([1, 10, 20, 21, 1000]).map(lambda n: [URLS[0]] * n),  # up to lists of 1,000
    st.sampled_from(["sms", "mms", "MMS", "", "mms\x00", "video"]),
    st.lists(st.sampled_from(GROUP), max_size=25),
    st.sampled_from([1, 20, 21, 1000]).map(lambda n: ["15162065580"] * n),
)


@st.composite
def mutated(draw) -> dict:
    payload = dict(draw(st.sampled_from(PAYLOADS)))
    if draw(st.booleans()):
        payload["message_sid"] = draw(st.sampled_from(SIDS))
    for _ in range(draw(st.integers(0, 4))):
        key = draw(st.sampled_from(CHECKED) | st.sampled_from(FIELDS))
        if draw(st.integers(0, 3)) == 0:
            payload.pop(key, None)
        else:
            payload[key] = draw(values)
    if draw(st.integers(0, 2)) == 0:  # an MMS, sometimes a new one (the SIDs above repeat)
        if draw(st.booleans()):
            payload["message_sid"] = f"mms-{draw(st.integers(0, 10**9))}"
        for key in draw(st.lists(st.sampled_from(MMS_FIELDS), min_size=1, max_size=3)):
            payload[key] = draw(mms_values)
    return payload


def _flip(body: bytes, at: int, bit: int) -> bytes:
    at %= max(len(body), 1)
    return body[:at] + bytes([body[at] ^ (1 << bit)]) + body[at + 1 :] if body else body


@st.composite
def bodies(draw) -> bytes:
    text = json.dumps(draw(mutated()), ensure_ascii=draw(st.booleans()))
    body = text.encode("utf-8", "surrogatepass")  # lone surrogates become invalid UTF-8
    damage = draw(
        st.sampled_from(["none"] * 6 + ["flip", "cut", "nul", "deep", "pad", "wrap", "number"])
    )
    position = draw(st.integers(0, max(len(body), 1)))
    if damage == "flip":
        body = _flip(body, position, draw(st.integers(0, 7)))
    elif damage == "cut":
        body = body[:position]
    elif damage == "nul":
        body = body[:position] + b"\x00" + body[position:]
    elif damage == "deep":
        depth = draw(st.sampled_from([31, 33, 1000, 5000, 40_000]))
        body = body[:-1] + b', "deep": ' + b"[" * depth + b"]" * depth + b"}"
    elif damage == "pad":
        body = body[:-1] + b', "pad": "' + b"y" * MAX_BODY_BYTES + b'"}'
    elif damage == "wrap":
        body = b"[" + body + b"]"
    elif damage == "number":  # a JSON number json.dumps never writes; the later key wins
        key = draw(st.sampled_from(CHECKED))
        token = draw(st.sampled_from(HUGE_NUMBERS))
        body = body[:-1] + b', "' + key.encode() + b'": ' + token + b"}"
    return body


@st.composite
def posts(draw) -> tuple[bytes, str, bool]:
    # Rare on purpose, and picked away from the bounds Hypothesis favours.
    odd = {13: "text/plain", 27: "application/x-www-form-urlencoded"}
    content_type = odd.get(draw(st.integers(0, 39)), "application/json")
    return draw(bodies()), content_type, draw(st.integers(0, 99)) == 57


def test_no_fuzzed_body_gets_a_5xx_every_answered_body_is_kept_and_the_pages_still_answer(
    webhook_url,
):
    client = Client(enforce_csrf_checks=True)
    answers: Counter[int] = Counter()

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(request=posts())
    def post_one(request: tuple[bytes, str, bool]) -> None:
        body, content_type, wrong_secret = request
        url = webhook_url.replace("/carrierx/", "/carrierx/x") if wrong_secret else webhook_url
        before = last_event()
        response = client.post(url, data=body, content_type=content_type)
        answers[response.status_code] += 1
        assert response.status_code < 500, (response.status_code, body[:300])
        # By id, not COUNT(*): a count scans the whole table, thousands of times over.
        kept = list(CarrierEvent.objects.filter(pk__gt=before.pk if before else 0))
        if wrong_secret:
            assert response.status_code == 404
            assert not kept
            return
        assert len(kept) == 1, body[:300]
        event = kept[0]
        assert event.raw_bytes() == body[:MAX_BODY_BYTES], body[:300]
        assert event.truncated == (len(body) > MAX_BODY_BYTES)
        assert event.rejected == (response.status_code >= 400), (response.content, body[:300])

    post_one()
    print(f"\nwebhook fuzz: {EXAMPLES} examples, answers {dict(sorted(answers.items()))}")
    assert sum(answers.values()) >= EXAMPLES
    assert answers[200] and answers[400] and answers[422]
    # Only http(s) URLs became files to download, no message holds more than the webhook keeps,
    # and each message's count is its files.
    media = list(MessageMedia.objects.values_list("message_id", "source_url"))
    assert media, "no fuzzed MMS made a file: the MMS strategies are not reaching the webhook"
    assert all(url.lower().startswith(("http://", "https://")) for _, url in media)
    files = Counter(message_id for message_id, _ in media)
    assert max(files.values()) <= 20
    for pk, count in Message.objects.filter(media_count__gt=0).values_list("pk", "media_count"):
        assert files[pk] == count, (pk, count, files[pk])
    # Every inbound keyword text kept has its consent entry, and its customer a standing with
    # the DID it was sent to.
    keyword_texts = [
        m for m in Message.objects.filter(direction="inbound") if keyword(m.body) is not None
    ]
    assert keyword_texts, "no fuzzed text was a keyword: the STOP payload is not reaching it"
    entries = set(ConsentEvent.objects.values_list("message_id", flat=True))
    standings = set(OptOut.objects.values_list("customer_number", "our_number"))
    for m in keyword_texts:
        assert m.pk in entries and (m.their_number, m.our_number) in standings, m.pk
    assert_pages_answer_and_export_holds_every_message()
