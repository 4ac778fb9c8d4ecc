"""What a new inbound text costs the webhook: one statement on PostgreSQL (three on SQLite), and
no lookup a copy answers."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.utils import DatabaseError
from django.test.utils import CaptureQueriesContext

from messaging.models import (
    AutoReply,
    CarrierEvent,
    ConsentEvent,
    Conversation,
    ConversationEvent,
    Message,
    OptOut,
)
from messaging.services import auto_reply_numbers, carrier_events
from phone_numbers.models import Did
from tests.worker_processes import shell_answer

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


ON_POSTGRES = connection.vendor == "postgresql"
postgres_only = pytest.mark.skipif(
    not ON_POSTGRES, reason="SQLite cannot insert inside a WITH: a new text is three INSERTs there"
)


def test_a_new_inbound_text_is_one_statement_on_postgres_and_three_inserts_on_sqlite_once_the_auto_reply_copy_is_read(  # noqa: E501
    client, webhook_url, did
):
    statements(client, webhook_url, "warm-up")  # reads which DIDs answer, once
    sql = [s for s in statements(client, webhook_url, "sid-2") if s not in ("SAVEPOINT", "RELEASE")]
    # The message, the conversation (an upsert), the event: parts of one WITH on PostgreSQL.
    assert sql == (["WITH"] if ON_POSTGRES else ["INSERT", "INSERT", "INSERT"])
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
    # The message's UPDATE, the conversation's and the event's INSERT: one WITH on PostgreSQL.
    assert sql == (["SELECT", "WITH"] if ON_POSTGRES else ["SELECT", "UPDATE", "UPDATE", "INSERT"])
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


def atomic_log(client, url, body) -> tuple[list[tuple[str, bool]], dict]:
    """The statements a callback ran, each with whether a transaction was open, and its answer."""
    log: list[tuple[str, bool]] = []

    def record(execute, sql, params, many, context):
        log.append((sql, connection.in_atomic_block))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        response = client.post(url, body, content_type="application/json")
    assert response.status_code == 200, response.content
    return log, response.json()


def outbound_body(sid: str, state: str) -> dict:
    return {
        "message_sid": sid,
        "direction": "outbound",
        "from": OUR_DID,
        "to": CUSTOMER,
        "status": state,
    }


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_status_callback_on_postgres_reads_without_a_lock_and_writes_in_one_statement_outside_a_transaction(  # noqa: E501
    client, webhook_url, sent
):
    log, answer = atomic_log(client, webhook_url, outbound_body("out-1", "sent"))
    assert answer["outcome"] == "queued → sent"
    assert [(sql.split()[0], atomic) for sql, atomic in log] == [
        ("SELECT", False),
        ("WITH", False),
    ]
    assert "FOR UPDATE" not in log[0][0]
    assert Message.objects.get(pk=sent.pk).status == "sent"
    # A retry of it: the read, and the event alone.
    log, answer = atomic_log(client, webhook_url, outbound_body("out-1", "sent"))
    assert answer["outcome"] == "duplicate (sent)"
    assert [(sql.split()[0], atomic) for sql, atomic in log] == [
        ("SELECT", False),
        ("INSERT", False),
    ]
    assert list(
        Message.objects.get(pk=sent.pk).events.order_by("pk").values_list("outcome", flat=True)
    ) == ["queued → sent", "duplicate (sent)"]


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_retried_inbound_text_on_postgres_is_kept_as_a_duplicate_without_a_transaction(
    client, webhook_url, did
):
    written(client, webhook_url, "again")
    body = {"message_sid": "again", "direction": "inbound", "from": CUSTOMER, "to": OUR_DID}
    log, answer = atomic_log(client, webhook_url, body | {"message": "Hi", "status": "received"})
    assert answer["outcome"] == "duplicate (received)"
    # The one statement finds the SID held; the read; the event.
    assert [(sql.split()[0], atomic) for sql, atomic in log] == [
        ("WITH", False),
        ("SELECT", False),
        ("INSERT", False),
    ]
    assert Conversation.objects.get().unread_count == 1
    assert CarrierEvent.objects.filter(message_sid="again", message__isnull=False).count() == 2


def failed_count() -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value("portal_messages_failed_total", {"did": OUR_DID}) or 0.0


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_status_callback_racing_another_report_writes_nothing_unlocked_and_is_applied_under_the_lock(  # noqa: E501
    client, webhook_url, sent, monkeypatch
):
    real = carrier_events._held

    def raced(sid, *, lock=True):
        message = real(sid, lock=lock)
        if not lock:
            # Another report moves the message between this read and the write.
            Message.objects.filter(message_sid=sid).update(status="sent")
        return message

    monkeypatch.setattr(carrier_events, "_held", raced)
    touched = Conversation.objects.get(customer_number=CUSTOMER).updated_at
    failed_before = failed_count()
    log, answer = atomic_log(client, webhook_url, outbound_body("out-1", "failed"))
    # Applied to what the other report left, not to the stale read.
    assert answer["outcome"] == "sent → failed"
    shapes = [(sql.split()[0], atomic) for sql, atomic in log]
    assert shapes.pop(1) == ("UPDATE", False)  # the other report's, made above
    del log[1]
    assert shapes[:2] == [("SELECT", False), ("WITH", False)]  # the guarded write found no row
    assert ("SELECT", True) in shapes[2:] and "FOR UPDATE" in log[shapes.index(("SELECT", True))][0]
    assert Message.objects.get(pk=sent.pk).status == "failed"
    assert list(CarrierEvent.objects.values_list("message_id", "outcome")) == [
        (sent.pk, "sent → failed")
    ]
    assert Conversation.objects.get(customer_number=CUSTOMER).updated_at > touched
    assert failed_count() == failed_before + 1


@postgres_only
def test_a_guarded_status_write_whose_status_moved_writes_nothing(sent):
    message = carrier_events._held("out-1", lock=False)
    Message.objects.filter(pk=sent.pk).update(status="sent")
    touched = Conversation.objects.get(customer_number=CUSTOMER).updated_at
    changed, _ = carrier_events.message_update_from_sms(message, {"status": "delivered"})
    event = CarrierEvent(body="{}", message_sid="out-1", status="delivered", message=message)
    assert not carrier_events._changes_written(message, changed, event, status_was="queued")
    assert event.pk is None and not CarrierEvent.objects.exists()
    assert Message.objects.get(pk=sent.pk).status == "sent"
    assert Conversation.objects.get(customer_number=CUSTOMER).updated_at == touched
    assert carrier_events._changes_written(message, changed, event, status_was="sent")
    assert Message.objects.get(pk=sent.pk).status == "delivered"
    assert CarrierEvent.objects.get().message_id == sent.pk


# --- the one statement (PostgreSQL), its fall-backs and its failure -------------------------------


def written(client, url, sid: str, text: str = "Hi there", **more) -> tuple[list[str], dict]:
    """The statements a callback ran (SQL, savepoints left out) and its answer."""
    body = {"message_sid": sid, "direction": "inbound", "from": CUSTOMER, "to": OUR_DID}
    body |= {"message": text, "status": "received", **more}
    with CaptureQueriesContext(connection) as captured:
        response = client.post(url, body, content_type="application/json")
    assert response.status_code == 200, response.content
    sql = [q["sql"] for q in captured.captured_queries]
    return [q for q in sql if q.split()[0].upper() not in ("SAVEPOINT", "RELEASE")], response.json()


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_plain_new_text_writes_its_message_conversation_and_event_in_one_autocommit_statement(
    client, webhook_url, did
):
    written(client, webhook_url, "warm-up")
    sql, answer = written(client, webhook_url, "one-statement", "Table for two at 8?")
    # Autocommit: no transaction around it, not even a savepoint.
    assert len(sql) == 1 and sql[0].startswith("WITH")
    message = Message.objects.get(message_sid="one-statement")
    assert (message.direction, message.body, message.status) == (
        "inbound",
        "Table for two at 8?",
        "received",
    )
    event = CarrierEvent.objects.get(pk=answer["event"])
    assert (event.message_id, event.message_sid, event.status) == (
        message.pk,
        "one-statement",
        "received",
    )
    assert event.outcome == answer["outcome"] == "new inbound message (received)"
    assert '"Table for two at 8?"' in event.body and event.received_at is not None
    conversation = Conversation.objects.get(customer_number=CUSTOMER)
    assert (conversation.last_message_id, conversation.unread_count) == (message.pk, 2)
    assert (conversation.last_inbound_did, conversation.last_activity_at) == (
        OUR_DID,
        message.created_at,
    )


@postgres_only
def test_a_plain_text_reopening_a_done_conversation_writes_the_reopened_line_in_the_same_statement(
    client, webhook_url, did
):
    written(client, webhook_url, "first")
    Conversation.objects.update(state=Conversation.State.DONE)
    sql, _ = written(client, webhook_url, "back")
    assert [q.split()[0] for q in sql] == ["WITH"]
    conversation = Conversation.objects.get()
    line = ConversationEvent.objects.get(conversation=conversation)
    assert (line.kind, line.actor_id, conversation.state) == ("reopened", None, "open")
    assert line.created_at == conversation.state_changed_at == conversation.updated_at
    # An open conversation gets no line from the next text.
    written(client, webhook_url, "again")
    assert ConversationEvent.objects.count() == 1


@postgres_only
def test_a_repeated_sid_writes_nothing_in_the_one_statement_and_is_applied_as_a_duplicate(
    client, webhook_url, did
):
    written(client, webhook_url, "twice")
    sql, answer = written(client, webhook_url, "twice")
    assert sql[0].startswith("WITH") and len(sql) > 1  # tried, found the SID held, fell back
    assert answer["outcome"] == "duplicate (received)"
    assert Message.objects.filter(message_sid="twice").count() == 1
    assert Conversation.objects.get().unread_count == 1
    assert CarrierEvent.objects.filter(message_sid="twice").count() == 2


@pytest.mark.parametrize("word", ["STOP", "start!"])
def test_a_stop_or_start_text_writes_the_customers_word_with_the_message_in_one_statement_on_postgres(  # noqa: E501
    client, webhook_url, did, word
):
    written(client, webhook_url, "warm-up")  # reads which DIDs answer, once
    sql, answer = written(client, webhook_url, "keyword", word)
    # The message, conversation, standing, consent entry and event: one WITH on PostgreSQL; on
    # SQLite five INSERTs (the conversation's an upsert) in one transaction.
    if ON_POSTGRES:
        assert [q.split()[0] for q in sql] == ["WITH"]
    else:
        assert [q.split()[0] for q in sql] == ["INSERT"] * 5
    assert answer["outcome"] == "new inbound message (received)"
    message = Message.objects.get(message_sid="keyword")
    standing = OptOut.objects.get(customer_number=CUSTOMER, our_number=OUR_DID)
    stops = word == "STOP"
    assert (standing.opted_out, standing.keyword, standing.message) == (
        stops,
        word.strip("!").upper(),
        message,
    )
    assert standing.changed_at == message.created_at
    entry = ConsentEvent.objects.get(message=message)
    assert (entry.customer_number, entry.our_number, entry.detail) == (
        CUSTOMER,
        OUR_DID,
        word.strip("!").upper(),
    )
    assert entry.kind == (ConsentEvent.Kind.OPT_OUT if stops else ConsentEvent.Kind.OPT_IN)
    assert entry.method == ConsentEvent.Method.KEYWORD
    assert message.events.count() == 1
    assert Conversation.objects.get(customer_number=CUSTOMER).last_message == message


def test_a_start_after_a_stop_replaces_the_standing_and_adds_a_second_consent_entry(
    client, webhook_url, did
):
    written(client, webhook_url, "stop", "Stop")
    written(client, webhook_url, "start", "START")
    standing = OptOut.objects.get()
    start = Message.objects.get(message_sid="start")
    assert (standing.opted_out, standing.keyword, standing.message) == (False, "START", start)
    assert standing.changed_at == start.created_at
    kinds = list(ConsentEvent.objects.order_by("id").values_list("kind", "detail"))
    assert kinds == [(ConsentEvent.Kind.OPT_OUT, "STOP"), (ConsentEvent.Kind.OPT_IN, "START")]


def test_a_retried_stop_writes_no_second_consent_entry(client, webhook_url, did):
    written(client, webhook_url, "stop-once", "STOP")
    _, answer = written(client, webhook_url, "stop-once", "STOP")
    assert answer["outcome"] == "duplicate (received)"
    assert ConsentEvent.objects.count() == 1
    assert OptOut.objects.get().opted_out is True


@postgres_only
def test_a_text_to_a_did_that_answers_takes_the_transaction_and_queues_the_reply(
    client, webhook_url, did
):
    from django_tasks_db.models import DBTaskResult

    AutoReply.objects.create(did=did, enabled=True)
    sql, _ = written(client, webhook_url, "answered")
    assert not any(q.startswith("WITH m AS") for q in sql)
    queued = DBTaskResult.objects.filter(task_path="messaging.tasks.auto_reply_task")
    assert [r.args_kwargs["args"] for r in queued] == [
        [Message.objects.get(message_sid="answered").pk]
    ]


@postgres_only
def test_an_mms_takes_its_own_path_with_its_files(client, webhook_url, did):
    urls = ["https://media.example.com/a.jpg", "https://media.example.com/b.jpg"]
    sql, _ = written(client, webhook_url, "mms", "look", media_urls=urls, type="mms")
    assert not any(q.startswith("WITH m AS") for q in sql)
    message = Message.objects.get()
    assert (message.kind, [m.source_url for m in message.media.order_by("position")]) == (
        "mms",
        urls,
    )
    assert message.events.count() == 1


@pytest.mark.django_db(transaction=True)
def test_when_writing_a_new_text_fails_the_body_is_still_kept_in_a_commit_of_its_own(
    client, webhook_url, did, monkeypatch
):
    real = carrier_events.insert_parts

    def broken(obj, **how):
        sql, values = real(obj, **how)
        if isinstance(obj, CarrierEvent):
            # The event's INSERT names a column its table lacks: the database refuses it after
            # the message's INSERT (same statement on PostgreSQL, same transaction on SQLite).
            sql = sql.replace('"status"', '"no_such_column"')
        return sql, values

    monkeypatch.setattr(carrier_events, "insert_parts", broken)
    body = {"message_sid": "lost?", "direction": "inbound", "from": CUSTOMER, "to": OUR_DID}
    body |= {"message": "Are you open?", "status": "received"}
    with pytest.raises(DatabaseError):
        client.post(webhook_url, body, content_type="application/json")
    assert not Message.objects.exists() and not Conversation.objects.exists()
    event = CarrierEvent.objects.get()
    assert (event.message_sid, event.message_id, event.outcome) == (
        "lost?",
        None,
        "error while applying; kept",
    )
    assert '"Are you open?"' in event.body


def _prepared_here() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


@pytest.mark.skipif(not ON_POSTGRES, reason="prepared statements are PostgreSQL's")
def test_the_webhook_prepares_its_statements_and_nothing_else_is_prepared(
    client, webhook_url, did, sent
):
    # Settings: parameters bound at the server, so a statement can be prepared at all.
    assert connection.features.uses_server_side_binding
    for _ in range(8):  # more than psycopg's default threshold, were it on
        Conversation.objects.filter(customer_number=CUSTOMER).exists()
    assert _prepared_here() == []
    inbound(client, webhook_url, "prepared-1")
    inbound(client, webhook_url, "prepared-2")
    status = {"message_sid": "out-1", "direction": "outbound", "from": OUR_DID, "to": CUSTOMER}
    response = client.post(webhook_url, {**status, "status": "sent"}, "application/json")
    assert response.json()["outcome"] == "queued → sent"
    prepared = _prepared_here()
    # The plain new text's one statement (prepared once, run twice), the status callback's read
    # of its message and its write.
    assert len([q for q in prepared if q.startswith("WITH m AS (")]) == 1
    assert len([q for q in prepared if q.startswith("WITH u AS (")]) == 1
    assert len([q for q in prepared if q.startswith("SELECT") and "message_sid" in q]) == 1
    assert not any("messaging_conversation" in q and q.startswith("SELECT") for q in prepared)
    assert Message.objects.filter(message_sid__startswith="prepared-").count() == 2
    # Outside the webhook nothing is prepared, on the same connection.
    for _ in range(8):
        Conversation.objects.filter(customer_number="1555").exists()
    assert len(_prepared_here()) == len(prepared)


@pytest.mark.skipif(not ON_POSTGRES, reason="server-side binding is PostgreSQL's")
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("setting", "bound"), [(None, "True"), ("0", "False")])
def test_server_side_binding_is_on_unless_switched_off_for_a_pooler_that_cannot_keep_prepared_statements(  # noqa: E501
    setting, bound
):
    env = {} if setting is None else {"DATABASE_SERVER_SIDE_BINDING": setting}
    ask = "from django.db import connection; print(connection.features.uses_server_side_binding)"
    assert shell_answer(ask, **env) == bound
