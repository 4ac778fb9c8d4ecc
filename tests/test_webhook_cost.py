"""What a new inbound text costs the webhook: three statements, and no lookup a copy answers."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from messaging.models import AutoReply, Conversation, Message
from messaging.services import auto_reply_numbers
from phone_numbers.models import Did

CUSTOMER, OUR_DID = "15162065319", "15162065575"


def inbound(client, url, sid: str, text: str = "Hi there"):
    body = {
        "message_sid": sid,
        "direction": "inbound",
        "from": CUSTOMER,
        "to": OUR_DID,
        "message": text,
        "status": "received",
    }
    response = client.post(url, body, content_type="application/json")
    assert response.status_code == 200, response.content
    return response


@pytest.fixture
def did(db):
    return Did.objects.create(did_sid="d1", phonenumber=OUR_DID, active_capabilities=31)


def statements(client, url, sid: str) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        inbound(client, url, sid)
    return [q["sql"].split()[0].upper() for q in captured.captured_queries]


def test_a_new_inbound_text_is_three_inserts_once_the_auto_reply_copy_is_read(
    client, webhook_url, did
):
    statements(client, webhook_url, "warm-up")  # reads which DIDs answer, once
    sql = [s for s in statements(client, webhook_url, "sid-2") if s not in ("SAVEPOINT", "RELEASE")]
    # The message, the conversation (an upsert), the event.
    assert sql == ["INSERT", "INSERT", "INSERT"]
    conversation = Conversation.objects.get(customer_number=CUSTOMER)
    assert conversation.unread_count == 2
    assert conversation.last_message == Message.objects.get(message_sid="sid-2")
    assert conversation.last_inbound_did == OUR_DID


def test_a_repeated_callback_is_still_one_message_and_counted_unread_once(client, webhook_url, did):
    inbound(client, webhook_url, "same")
    answer = inbound(client, webhook_url, "same").json()
    assert answer["outcome"] == "duplicate (received)"
    assert Message.objects.filter(message_sid="same").count() == 1
    assert Conversation.objects.get().unread_count == 1
    assert Message.objects.get().events.count() == 2


def test_auto_reply_switched_on_here_answers_the_very_next_text(client, webhook_url, did):
    from django_tasks_db.models import DBTaskResult

    inbound(client, webhook_url, "before")  # the copy now says: nobody answers
    AutoReply.objects.create(did=did, enabled=True)
    inbound(client, webhook_url, "after")
    queued = DBTaskResult.objects.filter(task_path="messaging.tasks.auto_reply_task")
    assert [r.args_kwargs["args"] for r in queued] == [
        [Message.objects.get(message_sid="after").pk]
    ]


def test_auto_reply_switched_on_by_another_process_is_seen_once_the_copy_is_old(
    client, webhook_url, did, monkeypatch
):
    from django_tasks_db.models import DBTaskResult

    inbound(client, webhook_url, "first")
    # Another process's change: no signal reaches this one.
    AutoReply.objects.bulk_create([AutoReply(did=did, enabled=True)])
    inbound(client, webhook_url, "within-ttl")
    queued = DBTaskResult.objects.filter(task_path="messaging.tasks.auto_reply_task")
    assert not queued.exists()
    later = auto_reply_numbers.time.monotonic() + auto_reply_numbers.TTL_SECONDS + 1
    monkeypatch.setattr(auto_reply_numbers.time, "monotonic", lambda: later)
    inbound(client, webhook_url, "after-ttl")
    assert queued.count() == 1


def status(client, url, sid: str, state: str, **more):
    body = {
        "message_sid": sid,
        "direction": "outbound",
        "from": OUR_DID,
        "to": CUSTOMER,
        "status": state,
        **more,
    }
    with CaptureQueriesContext(connection) as captured:
        response = client.post(url, body, content_type="application/json")
    assert response.status_code == 200, response.content
    sql = [q["sql"].split()[0].upper() for q in captured.captured_queries]
    return response.json(), [s for s in sql if s not in ("SAVEPOINT", "RELEASE")]


@pytest.fixture
def sent(db):
    from messaging.services.carrier_events import conversation_add_message

    message = Message.objects.create(
        message_sid="out-1",
        direction="outbound",
        our_number=OUR_DID,
        their_number=CUSTOMER,
        body="Your table is ready",
        status="queued",
        group_recipients=["15162065999"],
    )
    conversation_add_message(message)
    return message


def test_a_status_callback_reads_its_message_once_and_writes_it_its_conversation_and_the_event(
    client, webhook_url, sent
):
    before = Conversation.objects.get(customer_number=CUSTOMER).updated_at
    answer, sql = status(
        client, webhook_url, "out-1", "delivered", price="0.0075", message_segments=1, mcc=310
    )
    assert answer["outcome"] == "queued → delivered"
    assert sql == ["SELECT", "UPDATE", "UPDATE", "INSERT"]
    message = Message.objects.get(pk=sent.pk)
    assert (message.status, str(message.price), message.segments, message.mcc) == (
        "delivered",
        "0.00750",
        1,
        310,
    )
    assert message.status_changed_at is not None and message.updated_at > sent.updated_at
    # What the callback did not name is as it was.
    assert (message.body, message.group_recipients, message.created_at) == (
        sent.body,
        ["15162065999"],
        sent.created_at,
    )
    assert Conversation.objects.get(customer_number=CUSTOMER).updated_at > before


def test_a_repeated_status_callback_finds_every_value_it_names_already_held_and_writes_only_the_event(  # noqa: E501
    client, webhook_url, sent
):
    # Read back as the ORM would (a decimal, not a float or text, on every backend): the same
    # price, segments and network codes are no change.
    first = {"price": "0.0075", "message_segments": 1, "mcc": 310, "mnc": 4}
    status(client, webhook_url, "out-1", "delivered", **first)
    answer, sql = status(client, webhook_url, "out-1", "delivered", **first)
    assert answer["outcome"] == "duplicate (delivered)"
    assert sql == ["SELECT", "INSERT"]
    assert Message.objects.get(pk=sent.pk).events.count() == 2
