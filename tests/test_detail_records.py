"""The carrier's detail records as the truth: with the callbacks lost, the sync recovers every
inbound text once (through the webhook's own path: conversation, unread, opt-out, auto-reply only
within its window), gives every outbound text its final status, its real cost and the carrier's
error code, and tells number admins when callbacks were being lost. Over real HTTP, against the
sandbox."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from io import StringIO
from urllib.parse import urlsplit

import pytest
import requests
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from messaging.models import (
    AutoReply,
    CarrierEvent,
    Conversation,
    DetailRecordRecovery,
    DetailRecordSync,
    Message,
    OptOut,
)
from messaging.services import detail_records
from messaging.services.carrier_events import user_data_for
from messaging.services.detail_records import detail_records_sync
from phone_numbers.models import Did
from phone_numbers.sync import numbers_sync
from portal.carrierx import get_client
from sandbox.detail_records import LANDLINE, mdr_json
from sandbox.models import SandboxCallbackAttempt, SandboxMessage
from sandbox.seed import PARTNER_SID, seed
from tests.conftest import run_tasks, sandbox_auth
from tests.netfaults import closed_port_url

pytestmark = pytest.mark.django_db(transaction=True)

MAIN_LINE = "15162065575"
INBOUND_LINE = "15162065318"
LANDLINE_NUMBER = "12125550100"


def customer(n: int) -> str:
    return f"1212555{n:04d}"


def handset(n: int) -> str:
    return f"1516555{n:04d}"


@pytest.fixture
def lost_callbacks(sandbox, settings):
    """The partner's SMS callback points at an address where nothing listens (the sandbox may
    try it: it is allow-listed), until the test calls the returned function to point it back."""
    numbers_sync()
    # The texts are seconds old; the test does not wait out the grace given to late callbacks.
    settings.DETAIL_RECORDS_RECOVERY_GRACE_SECONDS = 0
    webhook = sandbox.callbacks["sms"]
    dead = urlsplit(closed_port_url())
    settings.SANDBOX_CALLBACK_HOSTS = [dead.netloc]
    client = get_client()
    client.update_partner(PARTNER_SID, {"callbacks": {"sms": f"http://{dead.netloc}/hook"}})
    return lambda: client.update_partner(PARTNER_SID, {"callbacks": {"sms": webhook}})


def text_us(live_server, sender: str, body: str, to: str = INBOUND_LINE) -> None:
    response = requests.post(
        live_server.url + reverse("sandbox:simulate_inbound"),
        json={"from": sender, "to": to, "message": body},
        headers=sandbox_auth(),
        timeout=10,
    )
    assert response.status_code == 200, response.text


def send_from_portal(client, to: str, body: str) -> None:
    response = client.post("/messaging/", {"from_did": MAIN_LINE, "to_did": to, "message": body})
    assert response.status_code == 302, response.content.decode()[:500]


def snapshot() -> list[tuple]:
    fields = ("pk", "status", "price", "dr_sid", "delay_sent", "vendor_error_code", "updated_at")
    return [
        *Message.objects.order_by("pk").values_list(*fields),
        *Conversation.objects.order_by("pk").values_list("pk", "unread_count", "updated_at"),
        *DetailRecordRecovery.objects.order_by("pk").values_list("pk", "count", "last_at"),
        ("events", CarrierEvent.objects.count()),
        ("opt-outs", OptOut.objects.count()),
    ]


def test_texts_whose_callbacks_were_lost_are_recovered_once_with_their_final_status(
    lost_callbacks, live_server, sender_client
):
    texts = [f"Question {n} about my order" for n in range(1, 20)] + ["STOP"]
    for n, body in enumerate(texts, start=1):
        text_us(live_server, customer(n), body)
    for n in range(1, 21):
        send_from_portal(sender_client, handset(n), f"Your parcel {n} is on its way")
    run_tasks()

    # The carrier handled all forty and its callbacks went nowhere.
    assert SandboxMessage.objects.filter(status__in=["received", "delivered"]).count() == 40
    tried = SandboxCallbackAttempt.objects.exclude(url__contains="/webhooks/")
    assert tried.count() == 60 and not tried.filter(response_status__isnull=False).exists()
    assert not Message.objects.filter(direction="inbound").exists()
    assert set(Message.objects.values_list("status", flat=True)) == {"queued"}

    lost_callbacks()
    result = detail_records_sync()
    assert (result.recovered_inbound, result.recovered_outbound) == (20, 20)

    inbound = Message.objects.filter(direction="inbound")
    assert inbound.count() == 20
    assert sorted(inbound.values_list("body", flat=True)) == sorted(texts)
    assert all(m.recovered and m.status == "received" and m.dr_sid for m in inbound)
    assert {m.our_number for m in inbound} == {INBOUND_LINE}
    carrier_times = {  # as the carrier writes times: to the millisecond
        r.from_number: r.date_created.replace(microsecond=r.date_created.microsecond // 1000 * 1000)
        for r in SandboxMessage.objects.filter(direction="inbound")
    }
    for message in inbound:
        assert message.created_at == carrier_times[message.their_number]
        assert "recovered from the carrier's detail records" in message.events.get().outcome
    # Each recovered text is in its conversation, unread, like any text the webhook brings.
    unread = dict(Conversation.objects.values_list("customer_number", "unread_count"))
    assert all(unread[customer(n)] == 1 for n in range(1, 21))
    stop = OptOut.objects.get(customer_number=customer(20))
    assert stop.opted_out and stop.our_number == INBOUND_LINE

    outbound = Message.objects.filter(direction="outbound")
    assert set(outbound.values_list("status", flat=True)) == {"delivered"}
    assert not outbound.filter(recovered=True).exists()
    assert all(m.dr_sid and m.delay_sent is not None for m in outbound)

    recovery = DetailRecordRecovery.objects.get(our_number=INBOUND_LINE, direction="inbound")
    assert recovery.count == 20
    assert recovery.first_at == min(carrier_times.values())
    assert recovery.last_at == max(carrier_times.values())
    assert DetailRecordRecovery.objects.get(our_number=MAIN_LINE, direction="outbound").count == 20

    before = snapshot()
    again = detail_records_sync()
    assert again.read == 40  # the records that ended since the last sync began, read again
    assert (again.recovered_inbound, again.recovered_outbound, again.updated) == (0, 0, 0)
    assert snapshot() == before
    assert Message.objects.count() == 40


def test_number_admins_see_how_many_texts_reached_the_carrier_but_not_the_portal(
    lost_callbacks, live_server, client, number_admin, sender
):
    for n in range(1, 4):
        text_us(live_server, customer(n), f"Hello {n}")
    run_tasks()
    lost_callbacks()
    detail_records_sync()
    page = reverse("numbers:detail", args=[Did.objects.get(phonenumber=INBOUND_LINE).did_sid])

    client.force_login(number_admin)
    shown = client.get(page).content.decode()
    assert "3 inbound messages on +1 516-206-5318 reached the carrier but not this portal" in shown
    client.force_login(sender)
    response = client.get(page)
    assert "reached the carrier but not this portal" not in response.content.decode()


def test_the_records_real_cost_replaces_the_estimate(lost_callbacks, sender_client):
    for n in range(1, 4):
        send_from_portal(sender_client, handset(n), "A" * 200)  # two segments
    run_tasks()
    Message.objects.update(price=Decimal("0.05"))  # what an estimate or a callback said
    lost_callbacks()
    detail_records_sync()
    for message in Message.objects.all():
        carrier = SandboxMessage.objects.get(message_sid=message.message_sid)
        assert carrier.price == Decimal("0.015")
        assert message.price == carrier.price
        assert message.segments == 2


def test_a_failed_text_gets_the_carriers_error_code_and_reason_shown_on_its_page(
    lost_callbacks, sender_client
):
    send_from_portal(sender_client, LANDLINE_NUMBER, "Your table is ready")
    run_tasks()
    lost_callbacks()
    detail_records_sync()

    message = Message.objects.get()
    assert message.status == "failed"
    assert message.vendor_error_code == LANDLINE
    assert "landline" in message.vendor_error_reason
    assert message.price == 0
    page = sender_client.get(reverse("messaging:message", args=[message.pk]))
    shown = page.content.decode()
    assert LANDLINE in shown and "it cannot receive texts" in shown


def test_a_recovered_text_is_auto_replied_only_within_the_recovery_window(
    lost_callbacks, live_server, settings
):
    settings.AUTO_REPLY_RECOVERY_MINUTES = 15
    AutoReply.objects.create(did=Did.objects.get(phonenumber=INBOUND_LINE), enabled=True)
    text_us(live_server, customer(1), "Sent an hour ago")
    text_us(live_server, customer(2), "Sent just now")
    run_tasks()
    an_hour_ago = timezone.now() - timedelta(hours=1)
    SandboxMessage.objects.filter(from_number=customer(1)).update(
        date_created=an_hour_ago, date_stop=an_hour_ago
    )
    lost_callbacks()
    detail_records_sync()
    run_tasks()

    old = Message.objects.get(their_number=customer(1), direction="inbound")
    fresh = Message.objects.get(their_number=customer(2), direction="inbound")
    assert old.recovered and fresh.recovered
    assert not Message.objects.filter(auto_reply_to=old).exists()
    reply = Message.objects.get(auto_reply_to=fresh)
    assert reply.their_number == customer(2) and reply.our_number == INBOUND_LINE
    assert reply.status == "delivered"


def test_texts_whose_callbacks_came_are_matched_not_recovered(sandbox, sender_client, live_server):
    numbers_sync()
    text_us(live_server, customer(1), "Hello")
    send_from_portal(sender_client, handset(1), "Hi back")
    run_tasks()
    before = list(Message.objects.order_by("pk").values_list("pk", "status"))

    result = detail_records_sync()
    assert (result.matched, result.recovered_inbound, result.recovered_outbound) == (2, 0, 0)
    assert list(Message.objects.order_by("pk").values_list("pk", "status")) == before
    assert Message.objects.filter(dr_sid__isnull=False).count() == 2
    assert not Message.objects.filter(recovered=True).exists()
    assert not DetailRecordRecovery.objects.exists()


def test_the_next_sync_starts_after_the_last_record_read(lost_callbacks, live_server):
    text_us(live_server, customer(1), "First")
    run_tasks()
    lost_callbacks()
    detail_records_sync()
    state = DetailRecordSync.objects.get()
    assert state.last_dr_sid == SandboxMessage.objects.get().dr_sid
    assert state.last_error == ""

    text_us(live_server, customer(2), "Second")
    Message.objects.filter(their_number=customer(2)).delete()  # as if its callback were lost
    result = detail_records_sync()
    assert Message.objects.filter(their_number=customer(2)).count() == 1
    assert DetailRecordSync.objects.get().last_dr_sid == SandboxMessage.objects.last().dr_sid
    assert result.recovered_inbound == 1


def test_a_recovered_texts_page_says_it_came_from_the_carriers_records(
    lost_callbacks, live_server, client, inbox_staff
):
    text_us(live_server, customer(1), "Are you open on Sunday?")
    run_tasks()
    lost_callbacks()
    detail_records_sync()
    client.force_login(inbox_staff)
    message = Message.objects.get()
    shown = client.get(reverse("messaging:message", args=[message.pk])).content.decode()
    assert "recovered from the carrier&#x27;s detail records" in shown
    assert message.dr_sid in shown


def test_the_command_reads_now_and_the_periodic_read_queues_its_next_run(sandbox, settings):
    out = StringIO()
    call_command("detail_records_sync", stdout=out)
    assert "Detail records: read 0 detail records" in out.getvalue()

    settings.DETAIL_RECORDS_SYNC_MINUTES = 5
    call_command("detail_records_sync", "--schedule", stdout=out)
    call_command("detail_records_sync", "--schedule", stdout=out)  # brought forward, not doubled
    assert "already queued" in out.getvalue()
    assert run_tasks() == 1
    [queued] = DBTaskResult.objects.filter(
        task_path="messaging.tasks.detail_records_sync_periodic", status="READY"
    )
    assert timedelta(minutes=4) < queued.run_after - timezone.now() <= timedelta(minutes=5)
    assert DetailRecordSync.objects.get().last_run_at is not None


def test_a_carrier_that_cannot_be_reached_is_recorded_and_reported(sandbox, settings):
    settings.CARRIERX_API_URL = closed_port_url()
    with pytest.raises(CommandError, match="Could not read the detail records"):
        call_command("detail_records_sync")
    assert "unreachable" in DetailRecordSync.objects.get().last_error


def test_a_text_too_recent_to_call_lost_is_left_to_its_callback_then_recovered_later(
    lost_callbacks, live_server, settings
):
    settings.DETAIL_RECORDS_RECOVERY_GRACE_SECONDS = 3600
    text_us(live_server, customer(1), "Is the shop open?")
    run_tasks()
    result = detail_records_sync()
    assert (result.recovered_inbound, result.waiting) == (0, 1)
    assert not Message.objects.exists()
    # An hour on, its callback never came: the next sync re-reads it and recovers it.
    settings.DETAIL_RECORDS_RECOVERY_GRACE_SECONDS = 0
    result = detail_records_sync()
    assert result.recovered_inbound == 1
    assert Message.objects.get().recovered


def test_a_late_callback_within_the_grace_leaves_one_message(
    lost_callbacks, live_server, settings, client, webhook_url
):
    settings.DETAIL_RECORDS_RECOVERY_GRACE_SECONDS = 3600
    text_us(live_server, customer(2), "Running late")
    run_tasks()
    assert detail_records_sync().waiting == 1
    # The callback comes after all (the carrier retried, or the portal came back up).
    sms = SandboxMessage.objects.get(direction="inbound")
    body = {
        "message_sid": str(sms.message_sid),
        "direction": "inbound",
        "from": sms.from_number,
        "to": sms.to_number,
        "message": sms.message,
        "status": "received",
    }
    assert client.post(webhook_url, body, content_type="application/json").status_code == 200
    settings.DETAIL_RECORDS_RECOVERY_GRACE_SECONDS = 0
    result = detail_records_sync()
    assert (result.recovered_inbound, result.matched) == (0, 1)
    assert Message.objects.filter(direction="inbound").count() == 1
    assert not Message.objects.get().recovered


class RecordsClient:
    """The carrier's records as the sandbox writes them, handed over without HTTP: what the
    sync makes of them, not how they travel, is under test here."""

    def __init__(self, records: list[dict]) -> None:
        self.records = records

    def list_message_drs(self, *, after: str | None = None, filter: str | None = None):
        sids = [record["dr_sid"] for record in self.records]
        start = sids.index(after) + 1 if after else 0
        return iter(self.records[start:] if not filter or "date_insert" in filter else [])


def lost_inbound_records(count: int) -> list[dict]:
    partner = seed(sms_callback_url=None)
    an_hour_ago = timezone.now() - timedelta(hours=1)
    rows = [
        SandboxMessage.objects.create(
            partner=partner,
            direction="inbound",
            from_number=customer(n),
            to_number=INBOUND_LINE,
            message=f"Lost text {n}",
            status="received",
            date_created=an_hour_ago + timedelta(seconds=n),
            date_stop=an_hour_ago + timedelta(seconds=n),
        )
        for n in range(1, count + 1)
    ]
    return [mdr_json(row) for row in rows]


def test_a_sync_that_crashes_mid_way_keeps_whole_chunks_and_the_next_applies_the_rest_once(
    monkeypatch,
):
    records = lost_inbound_records(5)
    monkeypatch.setattr(detail_records, "SAVE_EVERY", 2)
    finish = detail_records._chunk_finish
    calls = []

    def crash_on_the_second_chunk(chunk):
        calls.append(chunk)
        if len(calls) == 2:
            raise RuntimeError("the process died")
        finish(chunk)

    monkeypatch.setattr(detail_records, "_chunk_finish", crash_on_the_second_chunk)
    with pytest.raises(RuntimeError):
        detail_records_sync(client=RecordsClient(records))
    # The first chunk whole, the second not at all: no text without its event and count.
    assert sorted(Message.objects.values_list("body", flat=True)) == ["Lost text 1", "Lost text 2"]
    assert CarrierEvent.objects.count() == 2
    assert DetailRecordRecovery.objects.get().count == 2
    assert DetailRecordSync.objects.get().last_dr_sid == records[1]["dr_sid"]

    monkeypatch.setattr(detail_records, "_chunk_finish", finish)
    result = detail_records_sync(client=RecordsClient(records))
    assert (result.read, result.recovered_inbound) == (3, 3)  # re-read: only what rolled back
    assert Message.objects.filter(recovered=True).count() == 5
    assert DetailRecordRecovery.objects.get().count == 5
    assert sum(Conversation.objects.values_list("unread_count", flat=True)) == 5


def test_a_record_read_twice_in_one_chunk_makes_one_message_and_is_matched_the_second_time():
    [record] = lost_inbound_records(1)
    result = detail_records_sync(client=RecordsClient([record, dict(record)]))
    assert (result.read, result.recovered_inbound, result.matched) == (2, 1, 1)
    assert Message.objects.get().dr_sid == record["dr_sid"]
    assert DetailRecordRecovery.objects.get().count == 1


def test_a_key_wins_over_numbers_and_time_within_a_chunk():
    """Two texts alike in numbers, body and time: the record that names one by our id gets it,
    and the record with no id takes the other, whatever their order in the chunk."""
    partner = seed(sms_callback_url=None)
    first, second = (
        Message.objects.create(
            direction="outbound", our_number=MAIN_LINE, their_number=handset(1), body="Hi",
            status="sent",
        )
        for _ in range(2)
    )  # fmt: skip
    rows = [
        SandboxMessage.objects.create(
            partner=partner, direction="outbound", from_number=MAIN_LINE, to_number=handset(1),
            message="Hi", status="delivered", user_data=user_data, date_created=first.created_at,
            date_stop=timezone.now(),
        )
        for user_data in (None, user_data_for(first))
    ]  # fmt: skip
    result = detail_records_sync(client=RecordsClient([mdr_json(row) for row in rows]))
    assert (result.matched, result.recovered_outbound) == (2, 2)
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.dr_sid == rows[1].dr_sid and second.dr_sid == rows[0].dr_sid
