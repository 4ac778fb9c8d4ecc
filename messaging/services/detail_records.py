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

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from messaging import tasks, validation
from messaging.models import (
    CarrierEvent,
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
        status=lenient(
            lambda v: validation.bounded_text(v, limit=validation.MAX_STATUS), item.get("status")
        )
        or "",
        date_start=start,
        date_stop=lenient(validation.moment, item.get("date_stop")),
        message_sid=lenient(
            lambda v: validation.bounded_text(v, limit=validation.MAX_SID), item.get("message_sid")
        )
        or "",
        user_data=item.get("user_data"),
        body=storable(body) if isinstance(body, str) else None,
        kind=lenient(validation.kind, item.get("type")) or Kind.SMS,
        media_urls=lenient(validation.media_urls, item.get("media_urls")) or [],
        group=lenient(validation.group_recipients, item.get("number_group_dst")) or [],
        delay_sent=lenient(validation.count, item.get("delay_sent")),
        vendor_error_code=lenient(
            lambda v: validation.bounded_text(str(v) if isinstance(v, int) else v, limit=32),
            item.get("vendor_error_code"),
        )
        or "",
        reason=lenient(lambda v: validation.bounded_text(v, limit=300), item.get("error_message"))
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


def message_for_record(record: Record) -> Message | None:
    """Our message the record is about (locked), or None. See the module docstring for the order."""
    messages = Message.objects.select_for_update()
    message = messages.filter(dr_sid=record.dr_sid).first()
    if message is not None:
        return message
    unmatched = messages.filter(dr_sid__isnull=True, direction=record.direction)
    if record.message_sid:
        message = unmatched.filter(message_sid=record.message_sid).first()
        if message is not None:
            return message
    message_id = carrier_events.message_id_from_user_data(record.user_data)
    if message_id is not None:
        message = unmatched.filter(pk=message_id).first()
        if message is not None:
            return message
    candidates = unmatched.filter(
        our_number=record.our_number,
        their_number=record.their_number,
        created_at__range=(record.date_start - MATCH_WINDOW, record.date_start + MATCH_WINDOW),
    )
    if record.body is not None:
        candidates = candidates.filter(body=record.body)
    return min(
        candidates[:50],
        key=lambda message: abs(message.created_at - record.date_start),
        default=None,
    )


# --- applying one record -------------------------------------------------------------------------


def _event(record: Record, message: Message, outcome: str) -> None:
    CarrierEvent.objects.create(
        body=storable(json.dumps(record.raw, sort_keys=True, ensure_ascii=False)),
        message_sid=message.message_sid or "",
        status=record.status[: validation.MAX_STATUS],
        outcome=f"detail record {record.dr_sid}: {outcome}"[:200],
        message=message,
    )


def _count_recovery(message: Message, record: Record) -> None:
    now = timezone.now()
    row, created = DetailRecordRecovery.objects.select_for_update().get_or_create(
        our_number=message.our_number,
        direction=message.direction,
        defaults={
            "count": 1,
            "first_at": record.date_start,
            "last_at": record.date_start,
            "recovered_at": now,
        },
    )
    if not created:
        row.count += 1
        row.first_at = min(row.first_at, record.date_start)
        row.last_at = max(row.last_at, record.date_start)
        row.recovered_at = now
        row.save(update_fields=["count", "first_at", "last_at", "recovered_at"])


def _update(message: Message, record: Record, result: SyncResult) -> None:
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
    message.save(update_fields=[*changed, "updated_at"])
    result.updated += 1
    recovered = not was_final and message.is_final and message.direction == Direction.OUTBOUND
    if recovered:
        _count_recovery(message, record)
        result.recovered_outbound += 1
        outcome = f"{outcome}; final status {RECOVERED_OUTCOME}"
    # Only what a person would want to read about (not the bare match of a record to a message
    # whose callbacks said it all) is kept as an event, where the message's page lists it.
    if set(changed) - {"dr_sid", "delay_sent"}:
        _event(record, message, outcome)
    if "status" in changed:
        carrier_events.conversation_touch(message)


def _recover_inbound(record: Record, result: SyncResult) -> None:
    """An inbound text the carrier handled and we never heard of: made as the webhook makes a new
    one, then dated by the carrier, marked recovered, and counted."""
    sms = _as_sms(record)
    sms["status"] = Status.RECEIVED
    message = carrier_events.message_from_callback(record.message_sid or None, sms)
    message.recovered = True
    message.dr_sid = record.dr_sid
    message.delay_sent = record.delay_sent
    try:
        with transaction.atomic():
            if not insert(message, unless_exists="dr_sid"):
                return
    except IntegrityError:
        # Its message SID is already ours (a callback came after all, in the meantime).
        return
    # Filed under the time it reached the carrier, not the time we learnt of it.
    Message.objects.filter(pk=message.pk).update(created_at=record.date_start)
    message.created_at = record.date_start
    carrier_events.message_file(message, sms)
    metrics.MESSAGES_RECEIVED.labels(message.our_number).inc()
    opt_out_record(message)
    window = timedelta(minutes=settings.AUTO_REPLY_RECOVERY_MINUTES)
    if message.our_number in auto_reply_numbers() and timezone.now() - record.date_start <= window:
        tasks.auto_reply_task.enqueue(message.pk)
    _event(record, message, RECOVERED_OUTCOME)
    _count_recovery(message, record)
    result.recovered_inbound += 1


def record_apply(record: Record, result: SyncResult) -> None:
    """Apply one record, in one transaction: to its message, else as a recovered inbound text.
    An outbound record with no message of ours was sent by something else on the account."""
    with transaction.atomic():
        message = message_for_record(record)
        if message is not None:
            _update(message, record, result)
        elif record.direction == Direction.INBOUND and record.status != Status.FAILED:
            if timezone.now() - record.date_start < _grace():
                # Its callback may still be on its way: a later sync re-reads it (see _reread).
                result.waiting += 1
            else:
                _recover_inbound(record, result)
        else:
            result.unmatched += 1


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


def _apply_all(items: Iterator[dict], result: SyncResult, state: DetailRecordSync | None) -> None:
    for item in items:
        result.read += 1
        try:
            record = record_from(item)
        except Invalid as err:
            result.unusable += 1
            logger.warning("detail record %r unusable: %s", str(item)[:200], err)
            continue
        record_apply(record, result)
        if state is not None:
            state.last_dr_sid = record.dr_sid
            state.last_date_insert = (
                lenient(validation.moment, item.get("date_insert")) or record.date_start
            )
            state.records_read += 1
            if state.records_read % SAVE_EVERY == 0:
                state.save(update_fields=["last_dr_sid", "last_date_insert", "records_read"])


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
