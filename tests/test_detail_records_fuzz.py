"""The detail record sync under damaged carrier answers: real records, as the sandbox's own
`GET /sms/message_drs` serves them, with fields removed, retyped, oversized and byte-damaged,
records that are not objects, pages that are not lists, answers that are not JSON and carrier
errors, fed through the client's HTTP seam (`responses`) into `detail_records_sync`.

Nothing but a CarrierXError ever leaves the sync; every record it could not use is counted;
nothing is half applied (each recovered text has its conversation, its event and its count, in
the same commit); and afterwards the inbox and the message list still render.

Seeded (derandomised), so a failure reproduces. DETAIL_RECORDS_FUZZ_EXAMPLES sets how many
syncs run; all share one test transaction, so what they leave behind is checked as a whole too.
"""

from __future__ import annotations

import json
import os
import re
from datetime import timedelta

import pytest
import responses
from django.urls import reverse
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from messaging.models import (
    CarrierEvent,
    Conversation,
    DetailRecordRecovery,
    DetailRecordSync,
    Direction,
    Message,
    Status,
)
from messaging.services.carrier_events import user_data_for
from messaging.services.detail_records import RECOVERED_OUTCOME, detail_records_sync, record_from
from messaging.validation import Invalid
from portal.carrierx import CarrierXClient, CarrierXError
from sandbox.detail_records import LANDLINE
from sandbox.models import SandboxMessage
from sandbox.seed import seed
from tests.conftest import make_user
from tests.fuzz_values import fuzz_settings
from tests.test_webhook_fuzz import PROBES, values

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("DETAIL_RECORDS_FUZZ_EXAMPLES", "150"))
BASE = "https://api.carrierx.com/core/v2"
RECORDS_URL = re.compile(re.escape(BASE) + r"/sms/message_drs.*")
MAIN_LINE = "15162065575"
HANDSET = "15162065574"
# A few record SIDs, so damaged records land on what earlier ones matched or recovered.
DR_SIDS = ["dr-1", "dr-2", "dr-3", "0b0f7d2e-5d7c-4d7e-9a41-3f7a9c1e2b11"]
NOT_OBJECTS = [None, 0, 7, "dr-1", "", [], ["dr-1"], True, 1.5]


@pytest.fixture
def real_records(client, settings) -> list[dict]:
    """The sandbox's own answer for an outbound text the portal sent (delivered), one it sent
    that failed (landline), and an inbound text the portal never heard of."""
    settings.DETAIL_RECORDS_RECOVERY_GRACE_SECONDS = 0
    partner = seed(sms_callback_url=None)
    sent = Message.objects.create(
        direction=Direction.OUTBOUND,
        our_number=MAIN_LINE,
        their_number=HANDSET,
        body="Your order shipped",
        status=Status.SENT,
    )
    failed = Message.objects.create(
        direction=Direction.OUTBOUND,
        our_number=MAIN_LINE,
        their_number="12125550100",
        body="Your table is ready",
        status=Status.SENT,
    )
    an_hour_ago = timezone.now() - timedelta(hours=1)
    common = {"partner": partner, "date_created": an_hour_ago, "date_stop": an_hour_ago}
    SandboxMessage.objects.create(
        **common,
        direction="outbound",
        from_number=MAIN_LINE,
        to_number=HANDSET,
        message=sent.body,
        status="delivered",
        price="0.0075",
        user_data=user_data_for(sent),
        date_sent=an_hour_ago + timedelta(seconds=2),
    )
    SandboxMessage.objects.create(
        **common,
        direction="outbound",
        from_number=MAIN_LINE,
        to_number=failed.their_number,
        message=failed.body,
        status="failed",
        price="0",
        user_data=user_data_for(failed),
        vendor_error_code=LANDLINE,
    )
    SandboxMessage.objects.create(
        **common,
        direction="inbound",
        from_number=HANDSET,
        to_number=MAIN_LINE,
        message="Is the shop open on Sunday?",
        status="received",
    )
    response = client.get(
        reverse("sandbox:message_drs"), HTTP_AUTHORIZATION="Bearer " + settings.CARRIERX_TOKEN
    )
    assert response.status_code == 200, response.content
    records = response.json()["items"]
    assert len(records) == 3
    return records


def damaged_text(text: str) -> st.SearchStrategy[str]:
    """`text` with NUL, a lone surrogate or a right-to-left override put in, or cut short."""
    return st.sampled_from(["\x00", "\ud800", "\u202e", "\udfff x", ""]).flatmap(
        lambda bad: st.integers(0, len(text)).map(lambda at: text[:at] + bad + text[at:])
    )


@st.composite
def mutated_record(draw, records: list[dict]) -> object:
    if draw(st.integers(0, 9)) == 0:
        return draw(st.sampled_from(NOT_OBJECTS))
    record = dict(draw(st.sampled_from(records)))
    if draw(st.booleans()):
        record["dr_sid"] = draw(st.sampled_from(DR_SIDS))
    for _ in range(draw(st.integers(0, 4))):
        key = draw(st.sampled_from(sorted(record)) | st.sampled_from(["message_sid", "extra"]))
        action = draw(st.integers(0, 4))
        if action == 0:
            record.pop(key, None)
        elif action == 1 and isinstance(record.get(key), str):
            record[key] = draw(damaged_text(record[key]))
        else:
            record[key] = draw(values)
    return record


@st.composite
def page(draw, records: list[dict]) -> tuple[int, bytes]:
    """(HTTP status, body) of one answer to GET /sms/message_drs."""
    items = draw(st.lists(mutated_record(records), max_size=6))
    kind = draw(st.integers(0, 19))  # most pages whole, their records damaged
    if kind == 0:  # items that are no list
        envelope = {"items": draw(st.sampled_from([{"a": 1}, "items", 3, True] + PROBES[:5]))}
    elif kind == 1:  # a page that is no object
        envelope = draw(st.sampled_from([items, "page", 1, None]))
    elif kind == 2:  # a pagination that leads nowhere sensible
        envelope = {"items": items, "pagination": draw(st.sampled_from([[], 5, {"next": 5}]))}
    else:
        envelope = {"items": items, "pagination": {}}
    body = json.dumps(envelope).encode("utf-8", "surrogatepass")
    if kind == 3:  # byte damage: a flipped bit, a cut, invalid UTF-8
        at = draw(st.integers(0, max(len(body) - 1, 0)))
        body = draw(
            st.sampled_from(
                [
                    body[:at],
                    body[:at] + b"\xff" + body[at:],
                    body[:at] + bytes([body[at] ^ 0x20]) + body[at + 1 :] if body else body,
                ]
            )
        )
    status = 200 if kind != 4 else draw(st.sampled_from([400, 404, 429, 500, 503]))
    return status, body


def carrier_answering(mock: responses.RequestsMock, answers: list[tuple[int, bytes]]) -> list:
    """Every request for detail records takes the next answer, then an empty page; returns the
    list of bodies served (to count what the sync was given)."""
    served = []

    def answer(request):
        status, body = answers.pop(0) if answers else (200, b'{"items": []}')
        served.append((status, body))
        return status, {"Content-Type": "application/json"}, body

    mock.add_callback(responses.GET, RECORDS_URL, callback=answer)
    return served


def items_of(served: list[tuple[int, bytes]]) -> list:
    out = []
    for status, body in served:
        try:
            envelope = json.loads(body)
        except ValueError:
            continue
        if status == 200 and isinstance(envelope, dict) and isinstance(envelope.get("items"), list):
            out += envelope["items"]
    return out


def usable(item: object) -> bool:
    try:
        record_from(item)
    except Invalid:
        return False
    return True


def assert_nothing_half_applied() -> None:
    recovered = Message.objects.filter(recovered=True, direction=Direction.INBOUND)
    counted = DetailRecordRecovery.objects.filter(direction=Direction.INBOUND)
    assert sum(counted.values_list("count", flat=True)) == recovered.count()
    with_event = CarrierEvent.objects.filter(
        message__in=recovered, outcome__contains=RECOVERED_OUTCOME
    )
    assert with_event.values("message").distinct().count() == recovered.count()
    # Each recovered text is unread in its conversation; nothing else in this world is.
    assert sum(Conversation.objects.values_list("unread_count", flat=True)) == recovered.count()
    outbound = Message.objects.filter(
        direction=Direction.OUTBOUND, status__in=["delivered", "failed"]
    )
    recovered_out = DetailRecordRecovery.objects.filter(direction=Direction.OUTBOUND)
    assert sum(recovered_out.values_list("count", flat=True)) == outbound.count()


def test_damaged_detail_records_never_break_the_sync_or_the_pages(real_records, client):
    api = CarrierXClient(base_url=BASE, token="tok", timeout=(1, 2))
    outcomes = {"synced": 0, "carrier errors": 0}

    @fuzz_settings(EXAMPLES)
    @given(answers=st.lists(page(real_records), min_size=1, max_size=3))
    def sync_once(answers):
        with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
            served = carrier_answering(mock, list(answers))
            try:
                result = detail_records_sync(client=api)
            except CarrierXError:
                outcomes["carrier errors"] += 1
                assert DetailRecordSync.objects.get().last_error
            else:
                outcomes["synced"] += 1
                given_items = items_of(served)
                assert result.read == len(given_items)
                assert result.unusable == sum(not usable(item) for item in given_items)
                assert DetailRecordSync.objects.get().last_error == ""
        assert_nothing_half_applied()

    sync_once()
    # Both paths were taken, many times.
    assert outcomes["synced"] > EXAMPLES // 5 and outcomes["carrier errors"] > EXAMPLES // 10
    assert Message.objects.filter(recovered=True).exists()
    assert Message.objects.filter(dr_sid__isnull=False, direction=Direction.OUTBOUND).exists()

    client.force_login(make_user("admin", superuser=True))
    for path in ("/messaging/inbox/", "/messaging/messages/"):
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
    for message in Message.objects.all():
        page_ = client.get(reverse("messaging:message", args=[message.pk]))
        assert page_.status_code == 200, (message.pk, page_.status_code)
