"""What a CarrierX SMS callback does to our messages.

The carrier documents no ordering and no retry policy, so every body is treated as an
at-least-once, possibly out-of-order report about one message, keyed on its `message_sid`.
"""

from __future__ import annotations

import logging

from django.db import IntegrityError, transaction

from messaging.auto_reply import auto_reply_task
from messaging.carrier_state import apply_sms
from messaging.conversations import conversation_record
from messaging.models import AutoReply, CallbackEvent, Direction, Message, Status
from messaging.opt_out import opt_out_record
from messaging.recording import message_id_from_user_data
from messaging.validation import Callback, Rejected, event_labels, storable

logger = logging.getLogger(__name__)


def callback_receive(
    *, raw: str, payload: dict, callback: Callback | None
) -> tuple[CallbackEvent, Rejected | None]:
    """Apply the checked body to its message and keep the body, in one transaction (one commit:
    the webhook's cost is mostly commits). If applying fails, the body is still kept, in a commit
    of its own, and the error goes on so the carrier is told to retry. A body about a message we
    do not hold that cannot make one is kept as rejected, and the rejection returned."""
    if callback is None:
        sid, status = event_labels(payload)
        event = CallbackEvent(body=raw, message_sid=sid, status=status)
        event.outcome = "kept; no message_sid, nothing to apply"
        event.save()
        return event, None
    sms = callback.sms
    sid = sms["message_sid"]
    event = CallbackEvent(body=raw, message_sid=sid, status=sms["status"])
    try:
        with transaction.atomic():
            message, outcome, created = _apply(sid, callback)
            event.message = message
            event.outcome = "; ".join([outcome, *callback.dropped])[:200]
            event.save()
            if created and message.direction == Direction.INBOUND:
                _inbound_arrived(message)
    except Rejected as rejection:
        # Raised before anything was written: the transaction held only row locks.
        event.rejected = True
        event.outcome = f"rejected {rejection.status}: {rejection.reason}"[:200]
        event.save()
        return event, rejection
    except Exception:
        event.pk, event.message, event.outcome = None, None, "error while applying; kept"
        event.save()
        raise
    return event, None


def callback_reject(
    *, raw: bytes, payload: object, rejection: Rejected, truncated: bool
) -> CallbackEvent:
    """Keep a body that can never succeed: its exact bytes, a storable copy to read, and why."""
    sid, status = event_labels(payload)
    return CallbackEvent.objects.create(
        body=storable(raw.decode("utf-8", errors="replace")),
        raw=raw,
        message_sid=sid,
        status=status,
        outcome=f"rejected {rejection.status}: {rejection.reason}"[:200],
        rejected=True,
        truncated=truncated,
    )


def _inbound_arrived(message: Message) -> None:
    opt_out_record(message)
    if AutoReply.objects.filter(did__phonenumber=message.our_number, enabled=True).exists():
        # Queued with this transaction; answered by the worker, so the webhook answers at once.
        auto_reply_task.enqueue(message.pk)


def _apply(sid: str, callback: Callback) -> tuple[Message, str, bool]:
    sms = callback.sms
    message = Message.objects.select_for_update().filter(message_sid=sid).first()
    if message is None:
        message = _adopt_by_user_data(sid, sms)
    if message is None:
        if callback.creation_problem:
            raise Rejected(f"no message {sid!r} to apply it to, and {callback.creation_problem}")
        message, created = _create(sid, sms)
        if created:
            conversation_record(message, new=True)
            return message, f"new {message.direction} message ({message.status})", True
    changed, outcome = apply_sms(message, sms)
    if changed:
        message.save(update_fields=[*changed, "updated_at"])
        conversation_record(message, new=False)
    return message, outcome, False


def _adopt_by_user_data(sid: str, sms: dict) -> Message | None:
    """A status callback that beat our own send's answer: our id in `user_data` names the row."""
    message_id = message_id_from_user_data(sms.get("user_data"))
    if message_id is None:
        return None
    message = (
        Message.objects.select_for_update()
        .filter(pk=message_id, direction=Direction.OUTBOUND, message_sid__isnull=True)
        .first()
    )
    if message is not None:
        message.message_sid = sid
        message.save(update_fields=["message_sid", "updated_at"])
    return message


def _create(sid: str, sms: dict) -> tuple[Message, bool]:
    inbound = sms.get("direction") == Direction.INBOUND
    message = Message(
        message_sid=sid,
        direction=Direction.INBOUND if inbound else Direction.OUTBOUND,
        our_number=sms["to"] if inbound else sms["from"],
        their_number=sms["from"] if inbound else sms["to"],
        body=str(sms.get("message") or ""),
        # Below every known status; apply_sms moves it to what was reported before the insert.
        status=Status.RECEIVED if inbound else Status.SENDING,
    )
    apply_sms(message, sms)
    try:
        # A savepoint, so a concurrent insert of the same SID leaves our transaction usable.
        with transaction.atomic():
            message.save(force_insert=True)
    except IntegrityError:
        winner = Message.objects.select_for_update().filter(message_sid=sid).first()
        if winner is None:  # not the race on message_sid: a real error, for the caller
            raise
        return winner, False
    return message, True
