"""What the carrier sent us → our messages and conversations.

The carrier documents no ordering and no retry policy, so every SMS body (a webhook callback, an
answer to our send, a GET during reconciliation) is treated as an at-least-once, possibly
out-of-order report about one message, keyed on its `message_sid`. Status only moves forward:
`message_update_from_sms` is the one place that copies an SMS object onto a message.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from contextlib import nullcontext
from functools import cache

from django.db import connection, transaction
from django.utils import timezone

from messaging import tasks, validation
from messaging.models import (
    CarrierEvent,
    Conversation,
    ConversationEvent,
    Direction,
    Kind,
    Message,
    OptOut,
    Status,
    status_rank,
)
from messaging.services.auto_reply_numbers import auto_reply_numbers
from messaging.services.inbound_media import media_message_insert, media_record
from messaging.services.opt_out import OPT_OUT_CHANGES, opt_out_record, opt_out_rows
from messaging.validation import Callback, Rejected, event_labels, lenient
from phone_numbers.carrier_events import number_event_receive
from portal import metrics
from portal.inserts import insert, insert_parts, row_written, saved, update, update_parts
from portal.storable import storable

logger = logging.getLogger(__name__)

USER_DATA_PREFIX = "portal-message-"


# --- one SMS object → one message ----------------------------------------------------------------


def _network_code(value: object) -> int | None:
    return validation.count(value, maximum=validation.MAX_NETWORK_CODE)


def message_update_from_sms(
    message: Message, sms: Mapping, *, count: bool = True
) -> tuple[list[str], str]:
    """Copy what the carrier says onto `message` (not saved) and return (changed fields, outcome).

    Status only moves forward. Segments, price and network codes are filled in whenever the
    carrier reports them, even on a late event, since they never regress.

    Every value goes through `messaging.validation` leniently: the webhook hands over values it
    already checked (cleaning them again changes nothing), while the carrier's answers to our own
    calls arrive unchecked, and one odd field there must neither fail a send nor reach a column
    that cannot hold it.

    `count=False`: the caller may yet not write the change, and counts a failure when it does
    (`failure_counted`).
    """
    changed = []
    new_status = sms.get("status")
    new_status = (
        lenient(lambda v: validation.bounded_text(v, limit=validation.MAX_STATUS), new_status) or ""
    )
    if status_rank(new_status) < 0:
        outcome = f"unknown status {new_status!r} kept, not applied" if new_status else "no status"
    elif status_rank(new_status) > status_rank(message.status):
        outcome = f"{message.status} → {new_status}"
        message.status = new_status
        changed.append("status")
        when = lenient(validation.moment, sms.get("date_status_changed")) or timezone.now()
        message.status_changed_at = when
        changed.append("status_changed_at")
    elif new_status == message.status:
        outcome = f"duplicate ({new_status})"
    else:
        outcome = f"stale ({new_status} after {message.status}), ignored"

    for field, value in (
        ("segments", lenient(validation.count, sms.get("message_segments"))),
        ("price", lenient(validation.price, sms.get("price"))),
        ("mcc", lenient(_network_code, sms.get("mcc"))),
        ("mnc", lenient(_network_code, sms.get("mnc"))),
    ):
        if value is not None and getattr(message, field) != value:
            setattr(message, field, value)
            changed.append(field)
    if count:
        failure_counted(message, changed)
    return changed, outcome


def failure_counted(message: Message, changed: list[str]) -> None:
    """Count a message the carrier's report just moved to failed."""
    if "status" in changed and message.status == Status.FAILED:
        metrics.MESSAGES_FAILED.labels(message.our_number).inc()


# --- conversations -------------------------------------------------------------------------------


def conversation_add_message(message: Message, *, opens: bool = True) -> None:
    """File a newly created `message` in its customer's conversation (creating it), counting it
    unread when inbound. Bumps `updated_at`, which is what open inboxes poll for.

    `opens=False` (a campaign's texts): a conversation this message creates starts *done*, so a
    campaign to thousands does not fill the team's open lists with conversations nobody has to
    answer; the customer's reply opens it like any done one.

    One upsert, not a read and a write: it runs for every inbound text. Callbacks can arrive out
    of order, so only a newer message (a higher id) becomes the last one; SET expressions read the
    row as it was, on both backends.

    An inbound message reopens a done conversation in the same statement: it stamps
    `state_changed_at` with this update's own time only when the row was done, and RETURNING says
    whether it did, so the "reopened" system line costs a statement only when one is written.
    """
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            conversation_upsert_sql(_UPSERT_ROW),
            [*conversation_upsert_values(message, opens=opens, now=now), message.pk],
        )
        conversation_id, reopened = cursor.fetchone()
    if reopened:
        # By nobody: the customer's new text did it.
        ConversationEvent.objects.create(
            conversation_id=conversation_id,
            kind=ConversationEvent.Kind.REOPENED,
            actor=None,
            created_at=now,
        )


# The upsert's row when its values are given (`conversation_upsert_values` and the message's id).
_UPSERT_ROW = "VALUES (%s, %s, %s, %s, %s, %s, %s)"


@cache
def conversation_upsert_sql(rows: str) -> str:
    """The conversation upsert of `conversation_add_message`, its row given by `rows`: the
    `VALUES` of `conversation_upsert_values` and the message's id last, or a SELECT that reads
    that id from an earlier part of the same statement (`_new_text_written`). One
    builder for both, so the two paths cannot drift apart. RETURNING (id, reopened)."""
    table = connection.ops.quote_name(Conversation._meta.db_table)
    last = f"{table}.last_message_id"
    newer = f"({last} IS NULL OR excluded.last_message_id > {last})"
    reopens = f"excluded.unread_count > 0 AND {table}.state = '{Conversation.State.DONE}'"
    return f"""INSERT INTO {table}
                (customer_number, last_activity_at, last_inbound_did, unread_count, updated_at,
                 state, last_message_id)
            {rows}
            ON CONFLICT (customer_number) DO UPDATE SET
                updated_at = excluded.updated_at,
                unread_count = {table}.unread_count + excluded.unread_count,
                last_inbound_did = CASE WHEN {newer} AND excluded.last_inbound_did <> ''
                    THEN excluded.last_inbound_did ELSE {table}.last_inbound_did END,
                last_activity_at = CASE WHEN {newer}
                    AND excluded.last_activity_at > {table}.last_activity_at
                    THEN excluded.last_activity_at ELSE {table}.last_activity_at END,
                last_message_id = CASE WHEN {newer}
                    THEN excluded.last_message_id ELSE {table}.last_message_id END,
                state_changed_at = CASE WHEN {reopens}
                    THEN excluded.updated_at ELSE {table}.state_changed_at END,
                state = CASE WHEN {reopens}
                    THEN '{Conversation.State.OPEN}' ELSE {table}.state END
            RETURNING id, state_changed_at = updated_at AS reopened"""


def conversation_upsert_values(message: Message, *, opens: bool, now) -> list:
    """The upsert's values but the message's id (its last column), in the SQL's order."""
    inbound = message.direction == Direction.INBOUND
    adapt = connection.ops.adapt_datetimefield_value
    return [
        message.their_number,
        adapt(message.created_at),
        message.our_number if inbound else "",
        1 if inbound else 0,
        adapt(now),
        Conversation.State.OPEN if opens or inbound else Conversation.State.DONE,
    ]


def conversation_touch(message: Message) -> None:
    """A message of the conversation changed (its status, say): mark the conversation changed so
    open inboxes repaint it. It exists: the message made it.

    Raw SQL: it runs for every status callback, and building the ORM's UPDATE cost several times
    what the database takes to run it."""
    with connection.cursor() as cursor:
        cursor.execute(*_touch_parts(message))


def _touch_parts(message: Message) -> tuple[str, list]:
    table = connection.ops.quote_name(Conversation._meta.db_table)
    return (
        f"UPDATE {table} SET updated_at = %s WHERE customer_number = %s",
        [connection.ops.adapt_datetimefield_value(timezone.now()), message.their_number],
    )


def conversation_mark_read(customer_number: str) -> None:
    Conversation.objects.filter(customer_number=customer_number, unread_count__gt=0).update(
        unread_count=0, updated_at=timezone.now()
    )


# --- our id in `user_data`: matching an early callback to our row ---------------------------------


def user_data_for(message: Message) -> str:
    """Our own id, sent along as `user_data`: the carrier echoes it, so callbacks and later
    reads can be tied to our row even before we know the carrier's SID."""
    return f"{USER_DATA_PREFIX}{message.pk}"


def message_id_from_user_data(user_data) -> int | None:
    if isinstance(user_data, str) and user_data.startswith(USER_DATA_PREFIX):
        tail = user_data.removeprefix(USER_DATA_PREFIX)
        # ASCII digits only (`isdigit` alone takes `²`, which int() refuses) and few enough to
        # be a primary key: a longer one would overflow the query.
        if tail.isascii() and tail.isdigit() and len(tail) <= 18:
            return int(tail)
    return None


def _adopt_by_user_data(sid: str, sms: dict) -> Message | None:
    """A status callback that beat our own send's answer: our id in `user_data` names the row."""
    message_id = message_id_from_user_data(sms.get("user_data"))
    if message_id is None:
        return None
    message = (
        Message.objects.select_for_update()
        .filter(pk=message_id, direction=Direction.OUTBOUND, message_sid__isnull=True)
        # A scheduled or cancelled message was never sent: a body naming it is not about it.
        .exclude(status__in=[Status.SCHEDULED, Status.CANCELLED])
        .first()
    )
    if message is not None:
        message.message_sid = sid
        message.save(update_fields=["message_sid", "updated_at"])
    return message


# --- the webhook's bodies ------------------------------------------------------------------------


def carrier_event_receive(
    *, raw: str, payload: dict, callback: Callback | None
) -> tuple[CarrierEvent, Rejected | None]:
    """Apply the checked body to its message and keep the body, in one transaction (one commit:
    the webhook's cost is mostly commits; a plain new text, on PostgreSQL, in one statement:
    `_new_text_written`). If applying fails, the body is still kept, in a commit of its own, and
    the error goes on so the carrier is told to retry. A body about a message we do not hold that
    cannot make one is kept as rejected, and the rejection returned."""
    if callback is None:
        sid, status = event_labels(payload)
        event = CarrierEvent(body=raw, message_sid=sid, status=status)
        with transaction.atomic():
            # Not an SMS object: maybe the partner's phonenumber_messaging_update or order.
            applied = number_event_receive(payload)
            event.outcome = applied or "kept; no message_sid, nothing to apply"
            event.save()
        return event, None
    sms = callback.sms
    sid = sms["message_sid"]
    event = CarrierEvent(body=raw, message_sid=sid, status=sms["status"])
    message = _plain_new_text(sid, callback)
    if message is not None:
        event.outcome = _outcome(f"new inbound message ({message.status})", callback)
        try:
            filed = _new_text_written(message, event)
        except Exception:
            # Nothing of it was written (one statement, or one transaction).
            _kept_alone(event)
            raise
        if filed:
            metrics.MESSAGES_RECEIVED.labels(message.our_number).inc()
            return event, None
        # The SID is held already (the carrier retrying): nothing was written; apply it as any.
    if connection.vendor == "postgresql" and (
        message is not None or sms.get("direction") != Direction.INBOUND
    ):
        try:
            if _held_applied(sid, callback, event):
                return event, None
        except Exception:
            _kept_alone(event)
            raise
    try:
        with transaction.atomic():
            message, outcome, created, changed = _apply(sid, callback)
            event.message = message
            event.outcome = _outcome(outcome, callback)
            if changed:
                _changes_written(message, changed, event)
            else:
                insert(event)
            if created and message.direction == Direction.INBOUND:
                _inbound_arrived(message)
    except Rejected as rejection:
        # Raised before anything was written: the transaction held only row locks.
        event.rejected = True
        event.outcome = f"rejected {rejection.status}: {rejection.reason}"[:200]
        event.save()
        return event, rejection
    except Exception:
        _kept_alone(event)
        raise
    return event, None


def _outcome(applied: str, callback: Callback) -> str:
    """An event's outcome: what applying it did, and the fields dropped as unusable."""
    return "; ".join([applied, *callback.dropped])[:200]


def _outside_a_transaction():
    """Where the statements of a write run in autocommit, each all or nothing on its own. Inside
    a caller's transaction already (a test, or a caller's atomic block), a savepoint instead: a
    failed statement must not spoil that transaction for the body kept after it."""
    return transaction.atomic() if connection.in_atomic_block else nullcontext()


def _kept_alone(event: CarrierEvent) -> None:
    """Applying the body failed and wrote nothing: keep the body, in a commit of its own."""
    event.pk, event.message, event.outcome = None, None, "error while applying; kept"
    event.save()


def carrier_event_reject(
    *, raw: bytes, payload: object, rejection: Rejected, truncated: bool
) -> CarrierEvent:
    """Keep a body that can never succeed: its exact bytes, a storable copy to read, and why."""
    sid, status = event_labels(payload)
    return CarrierEvent.objects.create(
        body=storable(raw.decode("utf-8", errors="replace")),
        raw=raw,
        message_sid=sid,
        status=status,
        outcome=f"rejected {rejection.status}: {rejection.reason}"[:200],
        rejected=True,
        truncated=truncated,
    )


# --- a plain new text, its rows prepared before it writes ---------------------------------------
# Nearly half the webhook's traffic is a new inbound text that needs nothing but its rows: the
# message, its conversation (upserted, maybe reopened), a STOP or START's standing and consent
# entry, and the event (a STOP took ten statements in a transaction before it joined these, three
# times a plain text's CPU: bench/RESULTS.md, run AG). Under load the webhook's rate
# on PostgreSQL follows its round trips (bench/RESULTS.md, runs P and R), and the transaction
# around three INSERTs made five (BEGIN and COMMIT); one WITH statement in autocommit makes one,
# and is as all-or-nothing as the transaction was. SQLite cannot insert inside a WITH, and its
# round trips cost nothing; but its transaction (BEGIN IMMEDIATE) holds the one write lock of the
# whole database, so every value is prepared before it begins, and inside it only the statements
# run.


def _plain_new_text(sid: str, callback: Callback) -> Message | None:
    """The message a callback makes when it can take this path: a new inbound SMS (a STOP or
    START too: its rows go in with it, `_keyword_parts`) to a DID with no auto-reply (that queues
    a task, so it takes `_apply`), not an MMS (its files go in with it, `media_message_insert`).
    None otherwise. Whether the SID is new only the INSERT can tell."""
    sms = callback.sms
    if sms.get("direction") != Direction.INBOUND or callback.creation_problem:
        return None
    message = message_from_callback(sid, sms)
    if message.kind != Kind.SMS or message.our_number in auto_reply_numbers():
        return None
    return message


def _new_text_written(message: Message, event: CarrierEvent) -> bool:
    """Write a plain new text's message, conversation (and its "reopened" line when it reopens),
    a STOP or START's standing and consent entry, and `event`, all or nothing: one statement on
    PostgreSQL, one short transaction on SQLite. False, with nothing written, when a row holds
    its SID."""
    message_sql, message_values = insert_parts(message, unless_exists="message_sid")
    event_sql, event_values = insert_parts(event, leave=("message_id",))
    now = timezone.now()
    # After the message's values are prepared: they fill in its created_at.
    conversation_values = conversation_upsert_values(message, opens=True, now=now)
    line = [ConversationEvent.Kind.REOPENED, connection.ops.adapt_datetimefield_value(now)]
    extras = _keyword_parts(message)
    if connection.vendor != "postgresql":
        statements = (message_sql, event_sql)
        values = (message_values, conversation_values, line, event_values)
        return _new_text_in_a_transaction(message, event, statements, values, extras)
    shapes = tuple((sql, len(values), suffix) for sql, values, suffix in extras)
    sql = _one_statement_sql(message_sql, event_sql, len(event_values), shapes)
    values = [*message_values, *conversation_values, *line]
    for _, extra_values, _ in extras:
        values += extra_values
    values += event_values
    with _outside_a_transaction(), connection.cursor() as cursor:
        cursor.execute(sql, values)
        row = cursor.fetchone()
    if row is None:
        return False
    _filed(message, event, *row)
    return True


def _new_text_in_a_transaction(
    message: Message, event: CarrierEvent, statements: tuple, values: tuple, extras: list
) -> bool:
    """SQLite: `_new_text_written`'s rows as statements of one transaction, every value
    prepared before it begins."""
    message_sql, event_sql = statements
    message_values, conversation_values, line, event_values = values
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(message_sql, message_values)
        row = cursor.fetchone()
        if row is None:
            return False
        (message_id,) = row
        cursor.execute(
            conversation_upsert_sql(_UPSERT_ROW),
            [*conversation_values, message_id],
        )
        conversation_id, reopened = cursor.fetchone()
        if reopened:
            cursor.execute(_reopened_line_sql("VALUES (%s, %s, %s)"), [conversation_id, *line])
        for sql, extra_values, suffix in extras:
            marks = ", ".join(["%s"] * (len(extra_values) + 1))
            cursor.execute(f"{sql}VALUES ({marks}){suffix}", [*extra_values, message_id])
        cursor.execute(
            f"{event_sql}VALUES ({', '.join(['%s'] * (len(event_values) + 1))}) RETURNING id",
            [*event_values, message_id],
        )
        (event_id,) = cursor.fetchone()
    _filed(message, event, message_id, event_id)
    return True


def _filed(message: Message, event: CarrierEvent, message_id: int, event_id: int) -> None:
    """The message and its event now stand for the rows written, as if `save()` had."""
    saved(message, message_id)
    event.message = message
    saved(event, event_id)


def _reopened_line_sql(rows: str) -> str:
    """The "reopened" system line (by nobody: the customer's new text did it); `rows` gives its
    conversation, kind and time."""
    lines = connection.ops.quote_name(ConversationEvent._meta.db_table)
    return f"INSERT INTO {lines} (conversation_id, kind, created_at) {rows}"


@cache
def _one_statement_sql(
    message_sql: str, event_sql: str, event_values: int, extras: tuple = ()
) -> str:
    """Each part after the message reads its id from `m`: when the message's INSERT meets its
    SID held and returns no row, no other part writes anything, and the answer is no row.
    `extras` are (INSERT up to its columns, how many values before the message's id, what
    follows the row) of more rows to write (`_keyword_parts`)."""
    conversation_sql = conversation_upsert_sql("SELECT %s, %s, %s, %s, %s, %s, m.id FROM m")
    more = "".join(
        f"x{n} AS ({sql}SELECT {', '.join(['%s'] * count)}, m.id FROM m{suffix}), "
        for n, (sql, count, suffix) in enumerate(extras)
    )
    return (
        f"WITH m AS ({message_sql}), "
        f"c AS ({conversation_sql}), "
        f"r AS ({_reopened_line_sql('SELECT c.id, %s, %s FROM c WHERE c.reopened')}), "
        f"{more}"
        f"e AS ({event_sql}SELECT {', '.join(['%s'] * event_values)}, m.id FROM m "
        "RETURNING id) "
        "SELECT m.id, e.id FROM m, e"
    )


def _keyword_parts(message: Message) -> list[tuple[str, list, str]]:
    """A STOP or START text's standing and consent entry (`opt_out_rows`) as more rows of the
    new text's write, each reading the message's id: (INSERT up to its columns, its values but
    the id, what follows the row). Empty for any other text."""
    rows = opt_out_rows(message)
    if rows is None:
        return []
    standing, entry = rows
    standing_sql, standing_values = insert_parts(standing, leave=("message_id",))
    entry_sql, entry_values = insert_parts(entry, leave=("message_id",))
    return [(standing_sql, standing_values, _opt_out_conflict()), (entry_sql, entry_values, "")]


@cache
def _opt_out_conflict() -> str:
    """An earlier standing with the same customer and DID takes the new one's `OPT_OUT_CHANGES`,
    as `opt_out_record`'s update_or_create does."""
    meta, quote = OptOut._meta, connection.ops.quote_name
    keys = [quote(meta.get_field(name).column) for name in ("customer_number", "our_number")]
    sets = [quote(meta.get_field(name).column) for name in OPT_OUT_CHANGES]
    return f" ON CONFLICT ({', '.join(keys)}) DO UPDATE SET " + ", ".join(
        f"{column} = excluded.{column}" for column in sets
    )


def _inbound_arrived(message: Message) -> None:
    metrics.MESSAGES_RECEIVED.labels(message.our_number).inc()
    opt_out_record(message)
    if message.our_number in auto_reply_numbers():
        # Queued with this transaction; answered by the worker, so the webhook answers at once.
        tasks.auto_reply_task.enqueue(message.pk)


def _apply(sid: str, callback: Callback) -> tuple[Message, str, bool, list[str]]:
    """The message the callback is about, what happened, whether it is new (and written), and
    the fields it changed on a message already held (not written yet: `_changes_written`)."""
    sms = callback.sms
    if sms.get("direction") == Direction.INBOUND and not callback.creation_problem:
        # Nearly every inbound callback is a new text: insert first, and look only when the SID
        # is already held (the carrier retrying, or a concurrent copy of this callback).
        message = message_from_callback(sid, sms)
        if _insert_and_file(message, sms):
            return message, f"new inbound message ({message.status})", True, []
    message = _held(sid)
    if message is None:
        message = _adopt_by_user_data(sid, sms)
    if message is None:
        if callback.creation_problem:
            raise Rejected(f"no message {sid!r} to apply it to, and {callback.creation_problem}")
        message = message_from_callback(sid, sms)
        if _insert_and_file(message, sms):
            return message, f"new {message.direction} message ({message.status})", True, []
        # A concurrent copy of this callback inserted it first: apply this one to that row.
        message = Message.objects.select_for_update().get(message_sid=sid)
    changed, outcome = message_update_from_sms(message, sms)
    return message, outcome, False, changed


# --- a report about a message we hold, on PostgreSQL without a transaction -----------------------
# Status callbacks are ~40 % of the webhook's traffic, and a carrier's retries ~10 %: each is about
# a message we hold. Read under a lock in a transaction, one took four round trips (BEGIN, the
# locked read, the write, COMMIT); read plainly and written by one statement that holds only if
# the status is still the one read, it takes two. A concurrent report that moved the status first
# makes the write find no row and write nothing; then the locked path applies it.


def _held_applied(sid: str, callback: Callback, event: CarrierEvent) -> bool:
    """Apply `callback` to the message holding `sid` and keep `event`, in autocommit. False, with
    nothing written, when no message holds it or another report changed its status meanwhile."""
    message = _held(sid, lock=False)
    if message is None:
        return False
    status_was = message.status
    changed, outcome = message_update_from_sms(message, callback.sms, count=False)
    event.message = message
    event.outcome = _outcome(outcome, callback)
    with _outside_a_transaction():
        if changed:
            if not _changes_written(message, changed, event, status_was=status_was):
                return False
            failure_counted(message, changed)
        else:
            insert(event)
    return True


def _changes_written(
    message: Message, changed: list[str], event: CarrierEvent, *, status_was: str | None = None
) -> bool:
    """A status callback that changed its message: the message's fields, its conversation's
    `updated_at` (what open inboxes poll for) and the event. Given `status_was` (the message was
    read without a lock), written only while the message's status is still that; False, with
    nothing written, when it is not.

    On PostgreSQL one statement (a WITH whose parts are the two UPDATEs and the INSERT reading
    the first), not three round trips: under load the webhook's rate follows its round trips
    there (bench/RESULTS.md, run R). SQLite cannot write inside a WITH; it reads under its
    writer's lock, so the status cannot have moved."""
    names = [*changed, "updated_at"]
    if connection.vendor != "postgresql":
        update(message, names)
        conversation_touch(message)
        insert(event)
        return True
    update_sql, update_values = update_parts(message, names)
    touch_sql, touch_values = _touch_parts(message)
    event_sql, event_values = insert_parts(event, leave=("message_id",))
    guard = [] if status_was is None else [status_was]
    sql = _changes_statement(update_sql, touch_sql, event_sql, len(event_values), bool(guard))
    return (
        row_written(event, sql, [*update_values, *guard, *touch_values, *event_values]) is not None
    )


@cache
def _changes_statement(
    update_sql: str, touch_sql: str, event_sql: str, event_values: int, guarded: bool
) -> str:
    """`_changes_written`'s statement: the touch and the event read the message's UPDATE, so
    when its status guard holds no row, nothing is written and the answer is no row."""
    marks = ", ".join(["%s"] * event_values)
    guard = " AND status = %s" if guarded else ""
    return (
        f"WITH u AS ({update_sql}{guard} RETURNING id), "
        f"t AS ({touch_sql} AND EXISTS (SELECT FROM u)) "
        f"{event_sql}SELECT {marks}, u.id FROM u RETURNING id"
    )


# Every status callback looks its message up by SID and writes what changed (that write:
# portal.inserts.update): as statements built once per process, not by the ORM per request
# (compiling the SELECT of ~30 columns alone was a third of a status callback's CPU).


@cache
def _held_statement(vendor: str, lock: bool) -> tuple[str, list[str], list[int]]:
    """The SELECT, the attribute of each column, and which columns the ORM converts on this
    backend (the JSON list everywhere; dates, decimals and booleans on SQLite)."""
    quote, fields = connection.ops.quote_name, Message._meta.concrete_fields
    lock = " FOR UPDATE" if lock and connection.features.has_select_for_update else ""
    sql = (
        f"SELECT {', '.join(quote(f.column) for f in fields)} FROM "
        f"{quote(Message._meta.db_table)} WHERE message_sid = %s{lock}"
    )
    converted = [
        n
        for n, f in enumerate(fields)
        if connection.ops.get_db_converters(f.cached_col)
        or f.cached_col.get_db_converters(connection)
    ]
    return sql, [f.attname for f in fields], converted


def _held(sid: str, *, lock: bool = True) -> Message | None:
    """The message holding `sid` (unique), with `lock` locked until the transaction ends where
    the database locks rows (SQLite's writer holds the whole file). Values go through the
    converters the ORM applies (`RawQuerySet` would do the same, but re-reads its column list
    once per field)."""
    sql, names, converted = _held_statement(connection.vendor, lock)
    with connection.cursor() as cursor:
        cursor.execute(sql, [sid])
        row = cursor.fetchone()
    if row is None:
        return None
    values, fields = list(row), Message._meta.concrete_fields
    for n in converted:
        col = fields[n].cached_col
        for convert in (*connection.ops.get_db_converters(col), *col.get_db_converters(connection)):
            values[n] = convert(values[n], col, connection)
    return Message.from_db(connection.alias, names, values)


def message_from_callback(sid: str, sms: dict) -> Message:
    inbound = sms.get("direction") == Direction.INBOUND
    urls, group = sms.get("media_urls") or [], sms.get("group_recipients") or []
    message = Message(
        message_sid=sid,
        direction=Direction.INBOUND if inbound else Direction.OUTBOUND,
        our_number=sms["to"] if inbound else sms["from"],
        their_number=sms["from"] if inbound else sms["to"],
        body=str(sms.get("message") or ""),
        kind=Kind.MMS if sms.get("type") == Kind.MMS or urls or group else Kind.SMS,
        media_count=len(urls),
        group_recipients=group,
        # Below every known status; the update moves it to what was reported before the insert.
        status=Status.RECEIVED if inbound else Status.SENDING,
    )
    message_update_from_sms(message, sms)
    return message


def _insert_and_file(message: Message, sms: dict) -> bool:
    """Insert a message just made from a callback and file it, as `message_file` does; False
    when a row holds its SID already (nothing written). An MMS's files go in with the message:
    on PostgreSQL in the same statement (`media_message_insert`)."""
    urls = sms.get("media_urls")
    if urls:
        if not media_message_insert(message, urls):
            return False
    elif not insert(message, unless_exists="message_sid"):
        return False
    conversation_add_message(message)
    return True


def message_file(message: Message, sms: dict) -> None:
    """A message just made from a callback: into its conversation, and its files recorded."""
    conversation_add_message(message)
    urls = sms.get("media_urls")
    if urls:
        # Every file, in order, even when there are many; the downloads run in the worker.
        media_record(message, urls)
