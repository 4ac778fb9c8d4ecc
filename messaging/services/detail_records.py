"""The carrier's message detail records as the truth (issue 17): real cost, send delay and error
code on our messages, and what lost callbacks never told us.

`detail_records_sync` reads the records incrementally: first every record inserted after the last
one read (`after=<dr_sid>`, the carrier's insertion order), then every record that ended
(`date_stop`) since the previous sync began, because a record is inserted when the message is
created and finished later. Applying a record twice changes nothing, so the overlap is harmless.

Each record is matched to our message by, in order: the record SID we already matched it to; the
message SID, when the record carries one (the carrier documents none); our own id in `user_data`
(`portal-message-<pk>`, which every send carries); else direction, our DID, their number, the same
text, and a creation time within MATCH_WINDOW of the record's `date_start` (closest first).

Records are applied SAVE_EVERY at a time, each chunk in one transaction that also moves the
cursor (a record at a time, the sync spent its time on commits and lookups: far from the carrier's
thousands a second). The chunk's keyed matches are one locking query; only the records it leaves
are looked up one by one by numbers, text and time. Its events, recovery counts and conversation
touches are written once, at its end. The outcome is the same as applying the records one by one.

Recovery: an inbound record without a message becomes one, marked `recovered`, through the
webhook's path for a new inbound text (conversation, unread count, opt-out, media), auto-replied
only if it reached the carrier at most AUTO_REPLY_RECOVERY_MINUTES ago. An outbound message still
waiting for its final status takes it from the record, through `message_update_from_sms`, so status
only moves forward. Each recovery is counted per DID and direction (`DetailRecordRecovery`), with
the carrier's first and last time, which shows when callbacks were being lost.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import islice

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from messaging import tasks, validation
from messaging.models import (
    CarrierEvent,
    Conversation,
    DetailRecordRecovery,
    DetailRecordSync,
    Direction,
    Kind,
    Message,
    Status,
)

# The module, not its names: carrier_events imports messaging.tasks, which imports this module.
from messaging.services import carrier_events
from messaging.services.auto_reply_numbers import auto_reply_numbers
from messaging.services.opt_out import opt_out_record
from messaging.validation import Invalid, lenient
from portal import metrics
from portal.carrierx import CarrierXClient, CarrierXError, get_client
from portal.inserts import insert
from portal.storable import storable

logger = logging.getLogger(__name__)

# How far apart our row's creation and the carrier's `date_start` may be for the same message
# when nothing but numbers, text and time tie them.
MATCH_WINDOW = timedelta(minutes=15)
# Clocks differ, and the carrier's `date_stop` may be rounded (its sample is to the minute): the
# ended-since read starts this much before the previous sync did.
OVERLAP = timedelta(minutes=5)
# The cursor is saved this often during a long read, so a crash re-reads at most this many.
SAVE_EVERY = 500
RECOVERED_OUTCOME = "recovered from the carrier's detail records (its callback never came)"


@dataclass
class SyncResult:
    read: int = 0
    matched: int = 0
    updated: int = 0
    recovered_inbound: int = 0
    recovered_outbound: int = 0
    unmatched: int = 0
    unusable: int = 0
    # Inbound records too recent to call lost: their callbacks may still come.
    waiting: int = 0
    errors: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        text = (
            f"read {self.read} detail records: {self.matched} matched, {self.updated} updated, "
            f"{self.recovered_inbound} inbound and {self.recovered_outbound} outbound recovered, "
            f"{self.unmatched} not ours, {self.unusable} unusable, "
            f"{self.waiting} left to their callbacks"
        )
        return text + (f"; {'; '.join(self.errors)}" if self.errors else "")


# What applying records counts (a chunk's counts join the sync's once it commits).
APPLIED = ("matched", "updated", "recovered_inbound", "recovered_outbound", "unmatched", "waiting")


@dataclass
class Record:
    """One detail record, every value checked and bounded (the carrier's names)."""

    raw: dict
    dr_sid: str
    direction: str
    our_number: str
    their_number: str
    status: str
    date_start: datetime
    date_stop: datetime | None
    message_sid: str
    user_data: object
    body: str | None
    kind: str
    media_urls: list[str]
    group: list[str]
    delay_sent: int | None
    vendor_error_code: str
    reason: str


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _optional(clean, value: object) -> object:
    """`lenient`, without the exception and the reason it would make for each null field (most
    records have a few, and the sync reads every record)."""
    return None if value is None else lenient(clean, value)


def record_from(item: object) -> Record:
    """A record as the carrier sent it → a Record; Invalid when it cannot be used."""
    if not isinstance(item, dict):
        raise Invalid("is not an object")
    dr_sid = validation.bounded_text(item.get("dr_sid"), limit=validation.MAX_SID)
    if not dr_sid:
        raise Invalid("has no dr_sid")
    direction = item.get("direction")
    if direction not in validation.DIRECTIONS:
        raise Invalid(f"direction {direction!r} is neither inbound nor outbound")
    src = validation.carrier_number(item.get("number_src"))
    dst = validation.carrier_number(item.get("number_dst"))
    start = validation.moment(item.get("date_start")) or validation.moment(item.get("date_insert"))
    if start is None:
        raise Invalid("has no date_start")
    body = item.get("message")
    return Record(
        raw=item,
        dr_sid=dr_sid,
        direction=direction,
        our_number=src if direction == Direction.OUTBOUND else dst,
        their_number=dst if direction == Direction.OUTBOUND else src,
        status=_optional(
            lambda v: validation.bounded_text(v, limit=validation.MAX_STATUS), item.get("status")
        )
        or "",
        date_start=start,
        date_stop=_optional(validation.moment, item.get("date_stop")),
        message_sid=_optional(
            lambda v: validation.bounded_text(v, limit=validation.MAX_SID), item.get("message_sid")
        )
        or "",
        user_data=item.get("user_data"),
        body=storable(body) if isinstance(body, str) else None,
        kind=_optional(validation.kind, item.get("type")) or Kind.SMS,
        media_urls=_optional(validation.media_urls, item.get("media_urls")) or [],
        group=_optional(validation.group_recipients, item.get("number_group_dst")) or [],
        delay_sent=_optional(validation.count, item.get("delay_sent")),
        vendor_error_code=_optional(
            lambda v: validation.bounded_text(str(v) if isinstance(v, int) else v, limit=32),
            item.get("vendor_error_code"),
        )
        or "",
        reason=_optional(lambda v: validation.bounded_text(v, limit=300), item.get("error_message"))
        or "",
    )


def _as_sms(record: Record) -> dict:
    """The record in the SMS object's words, for the code that reads SMS objects."""
    raw = record.raw
    return {
        "message_sid": record.message_sid or None,
        "direction": record.direction,
        "from": record.their_number if record.direction == Direction.INBOUND else record.our_number,
        "to": record.our_number if record.direction == Direction.INBOUND else record.their_number,
        "message": record.body,
        "type": record.kind,
        "media_urls": record.media_urls,
        "group_recipients": record.group,
        "status": record.status,
        "date_status_changed": raw.get("date_stop"),
        "message_segments": raw.get("message_segments"),
        "price": raw.get("price"),
        "mcc": raw.get("mcc"),
        "mnc": raw.get("mnc"),
    }


# --- matching ------------------------------------------------------------------------------------


@dataclass
class Chunk:
    """One transaction's worth of records: their messages, and what is written once at its end."""

    # Our messages the chunk may touch, by pk: locked, and the only copies written.
    messages: dict[int, Message] = field(default_factory=dict)
    # A record SID → its message: held already, claimed by an earlier record of the chunk, or
    # recovered by one.
    by_dr_sid: dict[str, Message] = field(default_factory=dict)
    by_message_sid: dict[str, Message] = field(default_factory=dict)
    # Messages an earlier record of the chunk claimed (they will carry its dr_sid).
    claimed: set[int] = field(default_factory=set)
    # Messages whose columns the chunk changed, written in one statement at its end.
    changed: dict[int, Message] = field(default_factory=dict)
    events: list[CarrierEvent] = field(default_factory=list)
    # (our DID, direction) → [count, first, last]
    recoveries: dict[tuple[str, str], list] = field(default_factory=dict)
    touched: set[str] = field(default_factory=set)


def _lock_keyed(records: list[Record], chunk: Chunk) -> None:
    """Every message a record of the chunk names (by record SID, message SID or our id in
    `user_data`), read and locked in one statement, in id order: two syncs, or a sync and the
    webhook (which locks one row), never wait on each other in a circle."""
    query = Q(dr_sid__in={record.dr_sid for record in records})
    sids = {record.message_sid for record in records if record.message_sid}
    if sids:
        query |= Q(dr_sid__isnull=True, message_sid__in=sids)
    ids = {carrier_events.message_id_from_user_data(record.user_data) for record in records}
    ids.discard(None)
    if ids:
        query |= Q(dr_sid__isnull=True, pk__in=ids)
    for message in Message.objects.select_for_update().filter(query).order_by("pk"):
        chunk.messages[message.pk] = message
        if message.dr_sid is not None:
            chunk.by_dr_sid[message.dr_sid] = message
        elif message.message_sid:
            chunk.by_message_sid[message.message_sid] = message


def _keyed(record: Record, chunk: Chunk) -> Message | None:
    """The record's message by its keys, as if the chunk's earlier records were applied."""
    message = chunk.by_dr_sid.get(record.dr_sid)
    if message is not None:
        return message
    candidates = []
    if record.message_sid:
        candidates.append(chunk.by_message_sid.get(record.message_sid))
    message_id = carrier_events.message_id_from_user_data(record.user_data)
    if message_id is not None:
        candidates.append(chunk.messages.get(message_id))
    for message in candidates:
        if (
            message is not None
            and message.dr_sid is None
            and message.pk not in chunk.claimed
            and message.direction == record.direction
        ):
            return message
    return None


def _near(records: list[Record], chunk: Chunk) -> list[Message | None]:
    """For records no key tied to a message: the message with no record yet that has their
    direction, numbers and text and was created within MATCH_WINDOW of their `date_start`,
    closest in time first, none claimed by an earlier record of the chunk. One read of the
    chunk's candidates (unlocked), then one locking read of those chosen, which must still have
    no record."""
    starts = [record.date_start for record in records]
    candidates: dict[tuple[str, str, str], list[tuple]] = {}
    for row in (
        Message.objects.filter(
            dr_sid__isnull=True,
            their_number__in={record.their_number for record in records},
            created_at__range=(min(starts) - MATCH_WINDOW, max(starts) + MATCH_WINDOW),
        )
        .order_by("pk")
        .values_list("pk", "direction", "our_number", "their_number", "body", "created_at")
    ):
        candidates.setdefault(row[1:4], []).append(row)
    chosen: list[int | None] = []
    # A record met twice in the chunk: its second sight takes what its first did.
    seen: dict[str, int | None] = {}
    for record in records:
        if record.dr_sid in seen:
            chosen.append(seen[record.dr_sid])
            continue
        mine = candidates.get((record.direction, record.our_number, record.their_number), ())
        pk = min(
            (
                (abs(created_at - record.date_start), pk)
                for pk, _, _, _, body, created_at in mine
                if pk not in chunk.claimed
                and abs(created_at - record.date_start) <= MATCH_WINDOW
                and (record.body is None or body == record.body)
            ),
            default=(None, None),
        )[1]
        if pk is not None:
            chunk.claimed.add(pk)
        chosen.append(pk)
        seen[record.dr_sid] = pk
    wanted = {pk for pk in chosen if pk is not None and pk not in chunk.messages}
    if wanted:
        locked = Message.objects.select_for_update().filter(pk__in=wanted, dr_sid__isnull=True)
        for message in locked.order_by("pk"):
            chunk.messages[message.pk] = message
    return [chunk.messages.get(pk) if pk is not None else None for pk in chosen]


def _match(records: list[Record], chunk: Chunk) -> list[Message | None]:
    """Each record's message, in order: by keys for the whole chunk at once, then by numbers,
    text and time for the records left (every lock taken before the chunk writes anything). As
    applying them one by one would find them, except that a key wins over an earlier record's
    numbers-and-time guess."""
    _lock_keyed(records, chunk)
    matches: list[Message | None] = []
    left = []
    for n, record in enumerate(records):
        message = _keyed(record, chunk)
        if message is None:
            left.append(n)
        elif message.dr_sid is None:
            chunk.claimed.add(message.pk)
            chunk.by_dr_sid[record.dr_sid] = message
        matches.append(message)
    if left:
        for n, message in zip(left, _near([records[n] for n in left], chunk), strict=True):
            if message is not None:
                chunk.by_dr_sid.setdefault(records[n].dr_sid, message)
            matches[n] = message
    return matches


# --- applying records ----------------------------------------------------------------------------


def _event(record: Record, message: Message, outcome: str, chunk: Chunk) -> None:
    chunk.events.append(
        CarrierEvent(
            body=storable(json.dumps(record.raw, sort_keys=True, ensure_ascii=False)),
            message_sid=message.message_sid or "",
            status=record.status[: validation.MAX_STATUS],
            outcome=f"detail record {record.dr_sid}: {outcome}"[:200],
            message=message,
        )
    )


def _count_recovery(message: Message, record: Record, chunk: Chunk) -> None:
    key = (message.our_number, message.direction)
    counted = chunk.recoveries.get(key)
    if counted is None:
        chunk.recoveries[key] = [1, record.date_start, record.date_start]
    else:
        counted[0] += 1
        counted[1] = min(counted[1], record.date_start)
        counted[2] = max(counted[2], record.date_start)


def _update(message: Message, record: Record, result: SyncResult, chunk: Chunk) -> None:
    was_final = message.is_final
    changed, outcome = carrier_events.message_update_from_sms(message, _as_sms(record))
    if message.dr_sid is None:
        message.dr_sid = record.dr_sid
        changed.append("dr_sid")
    if record.delay_sent is not None and message.delay_sent != record.delay_sent:
        message.delay_sent = record.delay_sent
        changed.append("delay_sent")
    for name in ("vendor_error_code", "reason"):
        column = "vendor_error_reason" if name == "reason" else name
        value = getattr(record, name)
        if value and getattr(message, column) != value:
            setattr(message, column, value)
            changed.append(column)
    result.matched += 1
    if not changed:
        return
    chunk.changed[message.pk] = message
    result.updated += 1
    recovered = not was_final and message.is_final and message.direction == Direction.OUTBOUND
    if recovered:
        _count_recovery(message, record, chunk)
        result.recovered_outbound += 1
        outcome = f"{outcome}; final status {RECOVERED_OUTCOME}"
    # Only what a person would want to read about (not the bare match of a record to a message
    # whose callbacks said it all) is kept as an event, where the message's page lists it.
    if set(changed) - {"dr_sid", "delay_sent"}:
        _event(record, message, outcome, chunk)
    if "status" in changed:
        chunk.touched.add(message.their_number)


def _insert_recovered(message: Message) -> bool:
    """Insert a recovered text, unless its record already made one; False if not inserted."""
    if message.message_sid is None:
        # Only the record SID can clash, and the insert itself looks at that.
        return insert(message, unless_exists="dr_sid")
    try:
        with transaction.atomic():
            return insert(message, unless_exists="dr_sid")
    except IntegrityError:
        # Its message SID is already ours (a callback came after all, in the meantime).
        return False


def _recover_inbound(record: Record, result: SyncResult, chunk: Chunk) -> None:
    """An inbound text the carrier handled and we never heard of: made as the webhook makes a new
    one, then dated by the carrier, marked recovered, and counted."""
    sms = _as_sms(record)
    sms["status"] = Status.RECEIVED
    message = carrier_events.message_from_callback(record.message_sid or None, sms)
    message.recovered = True
    message.dr_sid = record.dr_sid
    message.delay_sent = record.delay_sent
    if not _insert_recovered(message):
        return
    chunk.messages[message.pk] = message
    chunk.by_dr_sid[record.dr_sid] = message
    # Filed under the time it reached the carrier, not the time we learnt of it (written with
    # the chunk's other changes).
    message.created_at = record.date_start
    chunk.changed[message.pk] = message
    carrier_events.message_file(message, sms)
    metrics.MESSAGES_RECEIVED.labels(message.our_number).inc()
    opt_out_record(message)
    window = timedelta(minutes=settings.AUTO_REPLY_RECOVERY_MINUTES)
    if message.our_number in auto_reply_numbers() and timezone.now() - record.date_start <= window:
        tasks.auto_reply_task.enqueue(message.pk)
    _event(record, message, RECOVERED_OUTCOME, chunk)
    _count_recovery(message, record, chunk)
    result.recovered_inbound += 1


def _record_apply(
    record: Record, message: Message | None, result: SyncResult, chunk: Chunk
) -> None:
    """Apply one record to its message, else as a recovered inbound text. An outbound record
    with no message of ours was sent by something else on the account."""
    # A record met twice in one chunk finds the message its first sight recovered.
    message = message or chunk.by_dr_sid.get(record.dr_sid)
    if message is not None:
        _update(message, record, result, chunk)
    elif record.direction == Direction.INBOUND and record.status != Status.FAILED:
        if timezone.now() - record.date_start < _grace():
            # Its callback may still be on its way: a later sync re-reads it (see _reread).
            result.waiting += 1
        else:
            _recover_inbound(record, result, chunk)
    else:
        result.unmatched += 1


# What applying a record may change on a message (a recovered one: its creation time too).
WRITTEN = (
    "status",
    "status_changed_at",
    "segments",
    "price",
    "mcc",
    "mnc",
    "dr_sid",
    "delay_sent",
    "vendor_error_code",
    "vendor_error_reason",
    "created_at",
    "updated_at",
)


def _messages_write(messages: list[Message], now: datetime) -> None:
    """Write the WRITTEN columns of `messages` in one UPDATE … FROM a list of rows: a save a
    message cost a round trip each, most of the chunk's time. The rows are locked by the chunk,
    so the copies hold what the database holds plus the chunk's changes."""
    if not messages:
        return
    fields = [Message._meta.get_field(name) for name in ("id", *WRITTEN)]
    columns = [[] for _ in fields]
    # psycopg takes the values as they are (the columns' casts below bound them); SQLite's
    # driver wants Django's preparation (dates as text, decimals rounded).
    prepare = connection.vendor != "postgresql"
    for message in messages:
        message.updated_at = now
        for values, f in zip(columns, fields, strict=True):
            value = getattr(message, f.attname)
            values.append(f.get_db_prep_save(value, connection) if prepare else value)
    quote = connection.ops.quote_name
    table = quote(Message._meta.db_table)
    names = ", ".join(quote(f.column) for f in fields)
    sets = ", ".join(f"{quote(f.column)} = v.{quote(f.column)}" for f in fields[1:])
    if connection.vendor == "postgresql":
        # One array a column: a statement of a dozen parameters, not thousands to parse.
        rows = ", ".join(f"%s::{f.db_type(connection)}[]" for f in fields)
        rows, params = f"SELECT * FROM unnest({rows})", columns
    else:
        mark = "(" + ", ".join(["%s"] * len(fields)) + ")"
        rows = "VALUES " + ", ".join([mark] * len(messages))
        params = [value for row in zip(*columns, strict=True) for value in row]
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH v ({names}) AS ({rows}) "
            f"UPDATE {table} SET {sets} FROM v WHERE {table}.{quote('id')} = v.{quote('id')}",
            params,
        )


def _chunk_finish(chunk: Chunk) -> None:
    """What the chunk's records add up to, written once: their events, the recovery counts per
    DID and direction, and the conversations whose messages changed status (so open inboxes
    repaint them)."""
    now = timezone.now()
    _messages_write(list(chunk.changed.values()), now)
    CarrierEvent.objects.bulk_create(chunk.events)
    for (our_number, direction), (count, first, last) in sorted(chunk.recoveries.items()):
        row, created = DetailRecordRecovery.objects.select_for_update().get_or_create(
            our_number=our_number,
            direction=direction,
            defaults={"count": count, "first_at": first, "last_at": last, "recovered_at": now},
        )
        if not created:
            row.count += count
            row.first_at = min(row.first_at, first)
            row.last_at = max(row.last_at, last)
            row.recovered_at = now
            row.save(update_fields=["count", "first_at", "last_at", "recovered_at"])
    if chunk.touched:
        Conversation.objects.filter(customer_number__in=chunk.touched).update(updated_at=now)


# --- the sync ------------------------------------------------------------------------------------


def _new_records(
    client: CarrierXClient, state: DetailRecordSync, started: datetime
) -> Iterator[dict]:
    if state.last_dr_sid:
        try:
            yield from client.list_message_drs(after=state.last_dr_sid)
            return
        except CarrierXError as err:
            # The record we stopped at is gone (aged out?): go on by its date instead.
            if not err.permanent or state.last_date_insert is None:
                raise
            logger.warning("detail records after %s: %s; reading by date", state.last_dr_sid, err)
    if state.last_date_insert is not None:
        since = state.last_date_insert - OVERLAP
    else:
        since = started - timedelta(hours=settings.DETAIL_RECORDS_LOOKBACK_HOURS)
    yield from client.list_message_drs(filter=f"date_insert ge {_iso(since)}")


def _chunk_apply(items: list, result: SyncResult, state: DetailRecordSync | None) -> None:
    """Apply up to SAVE_EVERY records in one transaction, with the cursor moved past them in the
    same commit: a crash re-reads only what it rolled back."""
    records = []
    for item in items:
        result.read += 1
        try:
            records.append(record_from(item))
        except Invalid as err:
            result.unusable += 1
            logger.warning("detail record %r unusable: %s", str(item)[:200], err)
    if not records:
        return
    counts = SyncResult()
    with transaction.atomic():
        chunk = Chunk()
        for record, message in zip(records, _match(records, chunk), strict=True):
            _record_apply(record, message, counts, chunk)
        _chunk_finish(chunk)
        if state is not None:
            last = records[-1]
            cursor = {
                "last_dr_sid": last.dr_sid,
                "last_date_insert": (
                    lenient(validation.moment, last.raw.get("date_insert")) or last.date_start
                ),
                "records_read": state.records_read + len(records),
            }
            DetailRecordSync.objects.filter(pk=state.pk).update(**cursor)
    # Committed: only now do the counts and the cursor say so.
    for name in APPLIED:
        setattr(result, name, getattr(result, name) + getattr(counts, name))
    if state is not None:
        for name, value in cursor.items():
            setattr(state, name, value)


def _apply_all(items: Iterator[dict], result: SyncResult, state: DetailRecordSync | None) -> None:
    # The carrier's pages are read between transactions, never inside one.
    items = iter(items)
    while chunk := list(islice(items, SAVE_EVERY)):
        _chunk_apply(chunk, result, state)


def detail_records_sync(*, client: CarrierXClient | None = None) -> SyncResult:
    """Read the carrier's detail records since the last sync and apply them. The cursor and the
    outcome are kept in `DetailRecordSync`; a carrier error is recorded there and raised."""
    client = client or get_client()
    state, _ = DetailRecordSync.objects.get_or_create(pk=DetailRecordSync.ROW)
    started = timezone.now()
    result = SyncResult()
    try:
        _apply_all(_new_records(client, state, started), result, state)
        if state.stopped_since is not None:
            ended = client.list_message_drs(filter=f"date_stop ge {_iso(state.stopped_since)}")
            _apply_all(ended, result, None)
    except CarrierXError as err:
        state.last_error = str(err)[:2000]
        raise
    else:
        state.stopped_since = _reread(started)
        state.last_error = ""
    finally:
        state.last_run_at = timezone.now()
        state.save()
        logger.info("detail records: %s", result)
    return result


def _grace() -> timedelta:
    return timedelta(seconds=settings.DETAIL_RECORDS_RECOVERY_GRACE_SECONDS)


def _reread(started: datetime) -> datetime:
    """Where the next sync's ended-since read starts: early enough for clock skew and rounding,
    and for the inbound records this sync left to their callbacks."""
    return started - max(OVERLAP, _grace())


def recoveries_for(our_number: str) -> list[DetailRecordRecovery]:
    """What the records recovered for one of our DIDs, inbound first."""
    return list(DetailRecordRecovery.objects.filter(our_number=our_number).order_by("direction"))
