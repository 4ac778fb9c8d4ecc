"""Background entry points, run by the task worker (`manage.py db_worker`): each calls a service.

django-tasks records a task by its import path (`messaging.tasks.send_message_task`); the task
lease reaper (services/task_leases.py) names them so.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django_tasks import task

from messaging.models import Message
from messaging.services import (
    auto_reply,
    detail_records,
    inbound_media,
    lookups,
    outbound,
    scheduled,
    task_leases,
)
from portal import periodic
from portal.carrierx import CarrierXError
from portal.request_context import logged_task


def message_request_id(message_id: int, *args) -> str:
    """The request that created the message: a task about it logs under the same id, so a send
    can be followed from the click on Send to the worker and the carrier call."""
    return Message.objects.filter(pk=message_id).values_list("request_id", flat=True).first() or ""


@task()
@logged_task(message_request_id)
def send_message_task(message_id: int) -> str:
    return outbound.message_send_attempt(message_id=message_id)


@task()
@logged_task(message_request_id)
def send_scheduled_task(message_id: int) -> str:
    """Queued for a "Send later" message's time: sends it if it is still scheduled and due."""
    return scheduled.scheduled_send_due(message_id=message_id)


@task()
@logged_task(message_request_id)
def reconcile_message_task(message_id: int, round_: int) -> str:
    return outbound.message_reconcile(message_id=message_id, round_=round_)


@task()
@logged_task()
def reconcile_stuck_task(reschedule: bool = True) -> str:
    # First the tasks a dead worker left RUNNING: a send among them hands its message to
    # reconciliation, which the stuck check then finds.
    task_leases.abandoned_tasks_recover()
    inbound_media.media_downloads_sweep()
    scheduled.scheduled_overdue_requeue()
    return outbound.messages_reconcile_stuck(reschedule=reschedule)


@task()
@logged_task(message_request_id)
def auto_reply_task(message_id: int) -> str:
    return auto_reply.auto_reply_send(message_id=message_id)


@task()
@logged_task()
def download_media_task(message_id: int | None = None) -> str:
    # One run takes the pending files of every message; `message_id` is only on tasks queued
    # before that (one task per MMS), which run the same way.
    return inbound_media.media_download()


@task()
@logged_task()
def number_lookup_task(number: str) -> str:
    return lookups.number_lookup(number=number)


def _detail_records_sync() -> str:
    try:
        return str(detail_records.detail_records_sync())
    except CarrierXError as err:
        # Kept on the sync's row; the task did what it could, and the next run tries again.
        return f"could not read the detail records: {err}"


@task()
@logged_task()
def detail_records_sync_periodic() -> str:
    """A read of the carrier's detail records that queues the next, DETAIL_RECORDS_SYNC_MINUTES
    later (a worker killed midway ends the chain; `manage.py detail_records_sync --schedule`
    starts it again)."""
    try:
        return _detail_records_sync()
    finally:
        delay = timedelta(minutes=settings.DETAIL_RECORDS_SYNC_MINUTES)
        periodic.queue_next(detail_records_sync_periodic, delay)


def detail_records_sync_schedule() -> str:
    """Start the periodic read, due at once; a chain already queued is brought forward, not
    doubled."""
    if periodic.start_now(detail_records_sync_periodic):
        return "The periodic read of detail records was already queued; it runs now."
    return (
        "Queued a read of the carrier's message detail records; the task worker reads them every "
        f"{settings.DETAIL_RECORDS_SYNC_MINUTES:g} minutes."
    )
