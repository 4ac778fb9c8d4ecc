"""Queueing a send and the periodic check's "is its send task still waiting?", where mutation
testing (docs/mutation-testing.md, run 3) found the suite silent: what a queued message stores
(who sent it, what it answers, its files), and which tasks count as its send still waiting."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
import responses
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from messaging import tasks
from messaging.models import Conversation, Direction, Message, Status
from messaging.services.outbound import (
    find_at_carrier,
    message_send,
    message_send_attempt,
    messages_reconcile_stuck,
)
from messaging.services.outbound_media import Attachment
from phone_numbers.models import CAP_SMS_IN, CAP_SMS_OUT, Did
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

OUR_DID, HANDSET = "15162065575", "15162065574"
SEND_TASK = "messaging.tasks.send_message_task"
# The smallest GIF: a 1×1 image the carrier takes as MMS.
GIF = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c000000000100010000020144003b"
)


def waiting_sends(message: Message) -> int:
    return DBTaskResult.objects.filter(
        task_path=SEND_TASK, status="READY", args_kwargs__args__0=message.pk
    ).count()


def test_a_queued_text_stores_its_text_sender_and_the_message_it_answers():
    ines = make_user("ines", "Senders")
    inbound = Message.objects.create(
        direction=Direction.INBOUND, our_number=OUR_DID, their_number=HANDSET, body="hours?"
    )

    message = message_send(
        from_number=OUR_DID, to=HANDSET, body="9 to 5", user=ines, auto_reply_to=inbound
    )

    stored = Message.objects.get(pk=message.pk)
    assert (stored.body, stored.sent_by, stored.auto_reply_to) == ("9 to 5", ines, inbound)
    assert (stored.kind, stored.media_count, stored.status) == ("sms", 0, Status.SENDING)
    assert waiting_sends(stored) == 1


def test_a_queued_mms_stores_its_kind_and_file_count():
    files = [Attachment(name=f"{n}.gif", content_type="image/gif", data=GIF) for n in "ab"]

    message = message_send(from_number=OUR_DID, to=HANDSET, body="", attachments=files)

    stored = Message.objects.get(pk=message.pk)
    assert (stored.kind, stored.media_count, stored.body) == ("mms", 2, "")


def test_the_periodic_check_sends_again_only_what_no_waiting_or_running_send_task_holds():
    def never_posted() -> Message:
        message = Message.objects.create(
            direction=Direction.OUTBOUND, our_number=OUR_DID, their_number=HANDSET, body="hi"
        )
        return message

    queued, running, finished, other_task, none = (never_posted() for _ in range(5))
    for message, state in ((queued, "READY"), (running, "RUNNING"), (finished, "SUCCESSFUL")):
        tasks.send_message_task.enqueue(message.pk)
        DBTaskResult.objects.filter(args_kwargs__args__0=message.pk).update(status=state)
    # Another task naming the same id is not its send.
    tasks.auto_reply_task.enqueue(other_task.pk)
    long_ago = timezone.now() - timedelta(hours=1)
    Message.objects.update(created_at=long_ago, updated_at=long_ago)

    assert messages_reconcile_stuck(reschedule=False) == "checked 5"

    waiting = {m.pk: waiting_sends(m) for m in (queued, running, finished, other_task, none)}
    assert waiting == {queued.pk: 1, running.pk: 0, finished.pk: 1, other_task.pk: 1, none.pk: 1}


# --- the carrier's answer to a send, at the HTTP seam ------------------------------------------

CARRIER = "https://carrierx.test/core/v2"


@pytest.fixture
def carrier(settings):
    settings.CARRIERX_API_URL = CARRIER
    with responses.RequestsMock() as mock:
        yield mock


def sending() -> Message:
    return Message.objects.create(
        direction=Direction.OUTBOUND, our_number=OUR_DID, their_number=HANDSET, body="hi"
    )


def test_the_carriers_answer_stores_a_price_as_written_and_drops_a_network_code_past_999(carrier):
    message = sending()
    # A JSON float: 0.000035 as a binary float is just under the half, so it would round down.
    answer = {"message_sid": "c-1", "status": "queued", "price": 0.000035, "mcc": 1000, "mnc": 260}
    carrier.post(f"{CARRIER}/sms/messages", json=answer)

    assert message_send_attempt(message_id=message.pk) == "sent as c-1"

    message.refresh_from_db()
    assert (message.message_sid, message.status) == ("c-1", "queued")
    assert (message.price, message.mcc, message.mnc) == (Decimal("0.00004"), None, 260)


def test_a_send_the_carrier_refuses_is_counted_failed_for_its_did(carrier, client, settings):
    settings.METRICS_TOKEN = "scrape"
    failed = f'portal_messages_failed_total{{did="{OUR_DID}"}}'

    def counted() -> float:
        text = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape").content.decode()
        return next(
            (float(line.split()[-1]) for line in text.splitlines() if line.startswith(failed)), 0.0
        )

    before = counted()
    carrier.post(f"{CARRIER}/sms/messages", status=400, json={"message": "invalid"})

    message_send_attempt(message_id=sending().pk)

    assert counted() == before + 1


def test_the_fallback_search_finds_the_copy_of_an_mms_without_text(carrier):
    message = Message.objects.create(
        direction=Direction.OUTBOUND,
        our_number=OUR_DID,
        their_number=HANDSET,
        body="",
        kind="mms",
        media_count=1,
        status=Status.UNKNOWN,
    )
    carrier.get(f"{CARRIER}/sms/messages", status=400, json={"message": "unknown field user_data"})
    copy = {"message_sid": "mms-1", "from": OUR_DID, "to": HANDSET, "message": None}
    listing = {"count": 1, "has_more": False, "items": [copy], "pagination": {}}
    carrier.get(f"{CARRIER}/sms/messages", json=listing)

    assert [sms["message_sid"] for sms in find_at_carrier(message)] == ["mms-1"]


def test_an_mms_from_a_did_that_cannot_send_mms_fails_without_asking_the_carrier(carrier):
    Did.objects.create(
        did_sid="did-1",
        phonenumber=OUR_DID,
        capabilities=CAP_SMS_IN | CAP_SMS_OUT,
        active_capabilities=CAP_SMS_IN | CAP_SMS_OUT,
    )
    message = Message.objects.create(
        direction=Direction.OUTBOUND,
        our_number=OUR_DID,
        their_number=HANDSET,
        body="see this",
        kind="mms",
        media_count=1,
    )

    assert message_send_attempt(message_id=message.pk) == "not enabled"

    message.refresh_from_db()
    assert message.status == Status.FAILED
    assert "cannot send pictures or files (MMS is not enabled on it)" in message.error
    assert not carrier.calls


def test_a_text_sent_later_is_stored_scheduled_and_queued_for_its_time_not_sent_now():
    at = timezone.now() + timedelta(hours=2)

    message = message_send(from_number=OUR_DID, to=HANDSET, body="later", send_at=at)

    stored = Message.objects.get(pk=message.pk)
    assert (stored.status, stored.send_at) == (Status.SCHEDULED, at)
    assert waiting_sends(stored) == 0
    task = DBTaskResult.objects.get(task_path="messaging.tasks.send_scheduled_task")
    assert (task.args_kwargs["args"], task.run_after) == ([message.pk], at)


def test_the_first_teammate_to_reply_takes_the_conversation():
    ines = make_user("ines-2", "Inbox staff", "Senders")
    Conversation.objects.create(customer_number=HANDSET, last_activity_at=timezone.now())

    message_send(from_number=OUR_DID, to=HANDSET, body="on it", user=ines)

    assert Conversation.objects.get(customer_number=HANDSET).assignee == ines


def test_an_mms_posts_its_files_public_urls_to_the_carrier_in_order(carrier):
    files = [Attachment(name=f"{n}.gif", content_type="image/gif", data=GIF) for n in "ab"]
    message = message_send(from_number=OUR_DID, to=HANDSET, body="", attachments=files)
    carrier.post(f"{CARRIER}/sms/messages", json={"message_sid": "m-1", "status": "queued"})

    message_send_attempt(message_id=message.pk)

    posted = json.loads(carrier.calls[0].request.body)
    urls = [m.public_url for m in message.media.order_by("position")]
    assert len(urls) == 2 and posted["media_urls"] == urls
