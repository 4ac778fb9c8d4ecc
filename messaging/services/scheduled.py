"""Send later: a message held as `scheduled` until its `send_at`, then sent the normal way.

`message_send(send_at=...)` saves the row as scheduled and queues `send_scheduled_task` to run
at `send_at` (a row in the task table, so a restart loses nothing: any worker takes it once it is
due). Moving the time queues another task at the new time; every task first moves its message
from scheduled to sending in one conditional UPDATE, only when it is still scheduled and due, so
the task of an old time, or of a cancelled message, changes nothing. After that the message is
an ordinary `sending` one: `outbound.message_send_attempt` sends it (opt-outs checked then), and
a worker that dies between the two leaves it to the stuck check like any other unsent message.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from messaging import tasks
from messaging.models import Message, Status
from messaging.services import carrier_events, outbound

# How far ahead "Send later" may be set (Twilio allows 35 days), and how soon at the earliest.
EARLIEST = timedelta(minutes=1)
LATEST = timedelta(days=35)
STUCK_BATCH = 200


class NotScheduled(Exception):
    """The message is no longer scheduled: it went (or is going), or was cancelled."""

    def __init__(self, message: Message | None) -> None:
        self.message = message
        status = message.status if message else "gone"
        super().__init__(f"This message is no longer scheduled: it is {status}.")


def _queue(message_id: int, send_at: datetime) -> None:
    # The task row is written in the caller's transaction: it commits with the message or not at
    # all, so no worker reads a task whose message is not there.
    tasks.send_scheduled_task.using(run_after=send_at).enqueue(message_id)


def scheduled_queue(message: Message) -> None:
    """Queue the task that sends a newly saved scheduled message at its time."""
    _queue(message.pk, message.send_at)


def scheduled_send_due(*, message_id: int) -> str:
    """Run by the task at (or after) `send_at`: send the message if it is still scheduled and
    due, else leave it alone."""
    now = timezone.now()
    moved = Message.objects.filter(pk=message_id, status=Status.SCHEDULED, send_at__lte=now).update(
        status=Status.SENDING, status_changed_at=now, updated_at=now
    )
    if not moved:
        message = Message.objects.filter(pk=message_id).first()
        if message is None:
            return "message gone"
        if message.status == Status.SCHEDULED:
            return f"not due yet (due {message.send_at.isoformat()})"
        return f"not scheduled any more ({message.status})"
    message = Message.objects.get(pk=message_id)
    carrier_events.conversation_touch(message)
    return outbound.message_send_attempt(message_id=message_id)


def _locked_scheduled(message_id: int) -> Message:
    message = Message.objects.select_for_update().filter(pk=message_id).first()
    if message is None or message.status != Status.SCHEDULED:
        raise NotScheduled(message)
    return message


@transaction.atomic
def scheduled_update(*, message_id: int, send_at: datetime, body: str) -> Message:
    """Change a scheduled message's time and text. A new task is queued at the new time; the one
    queued for the old time finds the message not yet due (or already sent) and does nothing."""
    message = _locked_scheduled(message_id)
    moved = message.send_at != send_at
    message.send_at = send_at
    message.body = body
    message.save(update_fields=["send_at", "body", "updated_at"])
    if moved:
        _queue(message.pk, send_at)
    carrier_events.conversation_touch(message)
    return message


@transaction.atomic
def scheduled_cancel(*, message_id: int) -> Message:
    """Call off a scheduled message: it stays in the thread as cancelled and is never sent."""
    message = _locked_scheduled(message_id)
    now = timezone.now()
    message.status = Status.CANCELLED
    message.status_changed_at = now
    message.save(update_fields=["status", "status_changed_at", "updated_at"])
    carrier_events.conversation_touch(message)
    return message


def scheduled_overdue_requeue() -> int:
    """Queue again the task of every scheduled message well past its time whose task is gone
    (a database restored without the task table's rows, say): run by the periodic stuck check.
    A task still waiting (a backed-up queue) is left to run; a second would change nothing."""
    cutoff = timezone.now() - timedelta(minutes=settings.RECONCILE_STUCK_MINUTES)
    overdue = list(
        Message.objects.filter(status=Status.SCHEDULED, send_at__lt=cutoff).values_list(
            "pk", flat=True
        )[:STUCK_BATCH]
    )
    waiting = {
        args["args"][0]
        for args in DBTaskResult.objects.filter(
            task_path=tasks.send_scheduled_task.module_path, status__in=["READY", "RUNNING"]
        ).values_list("args_kwargs", flat=True)
        if args.get("args")
    }
    lost = [pk for pk in overdue if pk not in waiting]
    for pk in lost:
        tasks.send_scheduled_task.enqueue(pk)
    return len(lost)
