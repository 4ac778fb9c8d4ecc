"""Getting a message to the carrier exactly once: send, retry, reconcile, adopt the carrier's SID.

CarrierX documents no idempotency key, so a blind re-POST can text a customer twice. The rules:

- The row is saved first (`message_send`), so nothing hides that we tried; the carrier is called
  by the send task, so the page answers at once however slow the carrier is.
- Retry (exponential backoff with jitter, honouring Retry-After, at most SEND_MAX_ATTEMPTS) only
  what cannot have reached the carrier: a refused or unresolvable connection, or a 429.
- A 4xx other than 429 is the carrier's final word: the message failed, with its reason.
- After a read timeout, a 5xx or a dropped connection the message is `unknown`: the carrier is
  asked (by our id in `user_data`, else by from/to/body around the send time) and its SID is
  adopted, or — when it provably has no such message — the message is sent once more.
- Whatever stays unsettled is flagged for staff.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from messaging import tasks
from messaging.models import CarrierEvent, Direction, Kind, Message, Status
from messaging.services import assignment, carrier_events, outbound_media, scheduled
from messaging.services.carrier_health import carrier_health_record
from messaging.services.opt_out import opt_out_refusal
from messaging.validation import MAX_SID, bounded_text, lenient
from phone_numbers.selectors import send_refusal
from portal import metrics
from portal.audit import signed_in
from portal.carrierx import CarrierXError, get_client

logger = logging.getLogger(__name__)

RECONCILE_ROUNDS = 5
STUCK_BATCH = 200


def message_send(
    *,
    from_number: str,
    to: str,
    body: str,
    user: AbstractBaseUser | None = None,
    auto_reply_to: Message | None = None,
    attachments: Sequence[outbound_media.Attachment] = (),
    send_at: datetime | None = None,
) -> Message:
    """Queue one SMS (an MMS with `attachments`, checked by outbound_media.attachments_prepare):
    save our row and its files, file it in its conversation, hand the call to the worker. With
    `send_at` ("Send later") it is saved as scheduled and the worker sends it at that time
    (messaging/services/scheduled.py)."""
    with transaction.atomic():
        message = Message.objects.create(
            direction=Direction.OUTBOUND,
            our_number=from_number,
            their_number=to,
            body=body,
            kind=Kind.MMS if attachments else Kind.SMS,
            media_count=len(attachments),
            status=Status.SCHEDULED if send_at else Status.SENDING,
            send_at=send_at,
            sent_by=signed_in(user),
            auto_reply_to=auto_reply_to,
        )
        outbound_media.message_media_store(message=message, attachments=attachments)
        carrier_events.conversation_add_message(message)
        # Every reply, wherever it is written: the first teammate to answer takes the conversation.
        assignment.conversation_take_on_reply(customer=to, user=message.sent_by)
        if send_at:
            scheduled.scheduled_queue(message)
        else:
            tasks.send_message_task.enqueue(message.pk)
    return message


def retry_delay(attempt: int, retry_after: float | None = None) -> float:
    """Seconds before attempt `attempt + 1`: the carrier's Retry-After when it gave one, else
    exponential backoff with full jitter so many senders do not retry in step."""
    if retry_after is not None:
        return min(retry_after, settings.SEND_BACKOFF_MAX_SECONDS)
    ceiling = min(
        settings.SEND_BACKOFF_SECONDS * 2 ** (attempt - 1), settings.SEND_BACKOFF_MAX_SECONDS
    )
    return random.uniform(ceiling / 2, ceiling)


def _enqueue(task_, *args, delay: float = 0) -> None:
    run_after = timezone.now() + timedelta(seconds=delay) if delay > 0 else None
    (task_.using(run_after=run_after) if run_after else task_).enqueue(*args)


def _settle(message: Message, *, status: str, error: str) -> None:
    """Move a message we still own (sending/unknown) to `status`; the carrier's own reports,
    applied by callbacks meanwhile, always win."""
    updated = Message.objects.filter(
        pk=message.pk, status__in=[Status.SENDING, Status.UNKNOWN]
    ).update(status=status, error=error[:2000], updated_at=timezone.now())
    if updated:
        carrier_events.conversation_touch(message)
        if status == Status.FAILED:
            metrics.MESSAGES_FAILED.labels(message.our_number).inc()


def _note(message_id: int, error: str) -> None:
    Message.objects.filter(pk=message_id).update(error=error[:2000], updated_at=timezone.now())


def _flag(message_id: int, reason: str) -> None:
    Message.objects.filter(pk=message_id).update(
        needs_attention=True, error=reason[:2000], updated_at=timezone.now()
    )
    logger.warning("message %s needs attention: %s", message_id, reason)


# --- sending -------------------------------------------------------------------------------------


def _claim_attempt(message_id: int) -> Message | None:
    """Count the POST before making it. Only a message still waiting to be sent is claimed, so a
    task that runs twice never sends twice."""
    with transaction.atomic():
        message = (
            Message.objects.select_for_update()
            .filter(pk=message_id, status=Status.SENDING, message_sid__isnull=True)
            .first()
        )
        if message is None:
            return None
        message.send_attempts += 1
        message.save(update_fields=["send_attempts", "updated_at"])
    return message


def message_send_attempt(*, message_id: int) -> str:
    """POST a queued message to the carrier once; what went wrong decides what happens next."""
    message = _claim_attempt(message_id)
    if message is None:
        return "nothing to send"
    refused = send_refusal_settle(message)
    if refused:
        return refused
    try:
        sms = carrier_post(message)
    except CarrierXError as err:
        return send_outcome_record(message, err=err)
    return send_outcome_record(message, sms=sms)


def send_refusal_settle(message: Message) -> str | None:
    """Fail a claimed message that may not go now (the customer texted STOP after it was queued,
    or the DID lost its SMS/MMS enablement); say why, or None when it may go."""
    refusal = opt_out_refusal(customer=message.their_number, our_number=message.our_number)
    if refusal is not None:
        _settle(message, status=Status.FAILED, error=f"Not sent: {refusal}")
        return "opted out"
    refusal = send_refusal(message.our_number, media=message.media_count > 0)
    if refusal is not None:
        _settle(message, status=Status.FAILED, error=refusal)
        return "not enabled"
    return None


def carrier_post(message: Message, *, client=None) -> dict:
    """The carrier call alone, no database write: campaigns run it on a thread pool, and record
    the outcome on their own thread with `send_outcome_record`. Raises CarrierXError."""
    return (client or get_client()).send_sms(
        from_=message.our_number,
        to=message.their_number,
        message=message.body,
        user_data=carrier_events.user_data_for(message),
        media_urls=outbound_media.media_urls(message),
    )


def send_outcome_record(
    message: Message, *, sms: dict | None = None, err: CarrierXError | None = None
) -> str:
    """Store what one POST of a claimed message came to: the carrier's SID, or the error and
    what follows from it (a retry, a failure, or reconciliation)."""
    if err is not None:
        return _send_failed(message, err)
    carrier_health_record(ok=True)
    message_adopt_sid(message_id=message.pk, sms=sms)
    return f"sent as {sms.get('message_sid')}"


def _send_failed(message: Message, err: CarrierXError) -> str:
    attempt = message.send_attempts
    if err.permanent:
        carrier_health_record(ok=True)  # it answered; it just said no
        _settle(message, status=Status.FAILED, error=str(err))
        return f"refused: {err}"
    carrier_health_record(ok=False, error=str(err))
    if not err.reached_carrier or err.status == 429:
        if attempt < settings.SEND_MAX_ATTEMPTS:
            delay = retry_delay(attempt, err.retry_after)
            _note(message.pk, f"Attempt {attempt} failed: {err}. Retrying in {delay:.0f} s.")
            _enqueue(tasks.send_message_task, message.pk, delay=delay)
            return f"retry in {delay:.1f}s"
        _settle(message, status=Status.FAILED, error=f"{err}; gave up after {attempt} attempts")
        return "gave up"
    # It may have arrived: never POST again blindly; ask the carrier first.
    _settle(message, status=Status.UNKNOWN, error=f"{err}; checking with CarrierX")
    _enqueue(
        tasks.reconcile_message_task, message.pk, 1, delay=settings.SEND_RECONCILE_DELAY_SECONDS
    )
    return "unknown; reconciling"


@transaction.atomic
def message_adopt_sid(*, message_id: int, sms: dict) -> Message:
    """Store the carrier's answer to our send (or its copy found by reconciliation) on our row.

    A status callback can beat the send's own answer. When it carried our `user_data` the webhook
    already put the SID on our row; when it did not, it made a row of its own, which is folded in
    here: its events move to our row and the furthest status wins.
    """
    message = Message.objects.select_for_update().get(pk=message_id)
    sid = lenient(lambda v: bounded_text(v, limit=MAX_SID), sms.get("message_sid")) or ""
    early = (
        Message.objects.select_for_update().filter(message_sid=sid).exclude(pk=message.pk).first()
        if sid
        else None
    )
    if early is not None:
        CarrierEvent.objects.filter(message=early).update(message=message)
        early_state = {
            "status": early.status,
            "date_status_changed": early.status_changed_at.isoformat()
            if early.status_changed_at
            else None,
        }
        early.delete()
        carrier_events.message_update_from_sms(message, early_state)
    message.message_sid = sid or None
    carrier_events.message_update_from_sms(message, sms)
    message.save()
    carrier_events.conversation_touch(message)
    return message


# --- reconciling ---------------------------------------------------------------------------------


def find_at_carrier(message: Message) -> list[dict]:
    """The carrier's copies of `message`: by our id in `user_data`, or — for a carrier that cannot
    filter on it — by sender, recipient and text since just before we first tried."""
    client = get_client()
    ours = carrier_events.user_data_for(message)
    try:
        return list(client.list_sms(filter=f'user_data eq "{ours}"'))
    except CarrierXError as err:
        if not err.permanent:
            raise
    since = (message.created_at - timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%S")
    candidates = client.list_sms(
        filter=f'from eq "{message.our_number}" and to eq "{message.their_number}" '
        f'and date_created ge "{since}"'
    )
    return [
        sms
        for sms in candidates
        # An MMS without text comes back `message: null`; ours is stored as "".
        if (sms.get("message") or "") == message.body and sms.get("user_data") in (None, "", ours)
    ]


def message_reconcile(*, message_id: int, round_: int) -> str:
    """Settle an `unknown` message: adopt the carrier's copy, or send once more when it has none."""
    message = Message.objects.filter(pk=message_id).first()
    if message is None or message.status != Status.UNKNOWN or message.message_sid:
        return "already settled"
    try:
        copies = find_at_carrier(message)
    except CarrierXError as err:
        carrier_health_record(ok=False, error=str(err))
        if round_ < RECONCILE_ROUNDS:
            delay = retry_delay(round_, err.retry_after)
            _enqueue(tasks.reconcile_message_task, message_id, round_ + 1, delay=delay)
            return f"carrier unavailable ({err}); will ask again"
        _flag(message_id, f"Could not reach CarrierX to check this message: {err}")
        return "flagged"
    carrier_health_record(ok=True)
    if copies:
        adopted = message_adopt_sid(message_id=message_id, sms=copies[0])
        if len(copies) > 1:
            _flag(message_id, f"CarrierX holds {len(copies)} copies of this message.")
        return f"adopted {adopted.message_sid}"
    if message.resent:
        _flag(message_id, "CarrierX has no copy even after one resend.")
        return "flagged"
    # Provably not at the carrier: send it once more, through the normal path.
    updated = Message.objects.filter(pk=message_id, status=Status.UNKNOWN).update(
        status=Status.SENDING, resent=True, error="Not at CarrierX; sending once more."
    )
    if updated:
        _enqueue(tasks.send_message_task, message_id)
    return "resending once"


def messages_reconcile_stuck(*, reschedule: bool) -> str:
    """Bring outbound messages stuck short of a final status to the carrier's current status, or
    flag them. Runs every RECONCILE_STUCK_MINUTES when `reschedule` (the worker keeps it going)."""
    minutes = settings.RECONCILE_STUCK_MINUTES
    cutoff = timezone.now() - timedelta(minutes=minutes)
    stuck = list(
        Message.objects.filter(
            direction=Direction.OUTBOUND,
            status__in=[Status.SENDING, Status.UNKNOWN, Status.QUEUED, Status.SENT],
            updated_at__lt=cutoff,
            needs_attention=False,
        ).order_by("id")[:STUCK_BATCH]
    )
    for message in stuck:
        _reconcile_stuck(message, cutoff=cutoff)
    if reschedule:
        _enqueue(tasks.reconcile_stuck_task, True, delay=minutes * 60)
    return f"checked {len(stuck)}"


def _send_task_pending(message_id: int) -> bool:
    return DBTaskResult.objects.filter(
        task_path=tasks.send_message_task.module_path,
        status__in=["READY", "RUNNING"],
        args_kwargs__args__0=message_id,
    ).exists()


def _reconcile_stuck(message: Message, *, cutoff) -> None:
    if message.status == Status.SENDING and message.send_attempts == 0:
        # Never POSTed. Its task may be lost (send now) or only waiting: in a backed-up queue, or
        # queued a moment ago by the lease reaper for a dead worker's send. A second task beside
        # it could be taken by another worker at the same time, and both would POST.
        if not _send_task_pending(message.pk):
            _enqueue(tasks.send_message_task, message.pk)
        return
    if not message.message_sid:
        # POSTed but never answered (say, the worker died mid-call): same as a timeout.
        Message.objects.filter(pk=message.pk, status=Status.SENDING).update(
            status=Status.UNKNOWN, updated_at=timezone.now()
        )
        _enqueue(tasks.reconcile_message_task, message.pk, 1)
        return
    try:
        sms = get_client().get_sms(message.message_sid)
    except CarrierXError as err:
        if err.status == 404:
            _flag(message.pk, "CarrierX no longer knows this message.")
        return
    with transaction.atomic():
        locked = Message.objects.select_for_update().get(pk=message.pk)
        changed, _ = carrier_events.message_update_from_sms(locked, sms)
        if changed:
            locked.save(update_fields=[*changed, "updated_at"])
            carrier_events.conversation_touch(locked)
    if not locked.is_final and locked.created_at < cutoff - timedelta(
        minutes=settings.RECONCILE_STUCK_MINUTES
    ):
        _flag(message.pk, f"Still {locked.status} at CarrierX after a long time.")
