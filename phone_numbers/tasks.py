"""Background re-reads of the carrier: the only way the DID cache refreshes on its own.

`numbers_sync_periodic` keeps itself going: each run queues the next, NUMBERS_SYNC_MINUTES later,
or sooner after a failure (NUMBERS_SYNC_RETRY_SECONDS, doubling up to the usual interval), so a
carrier that was down when the portal started is read soon after it comes back.
`manage.py numbers_sync --schedule` starts the chain; `numbers_sync_soon` asks for one extra
re-read right after the portal changed something at the carrier.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django_tasks import task
from django_tasks_db.models import DBTaskResult

from phone_numbers.selectors import sync_status
from phone_numbers.sync import numbers_sync
from portal import periodic
from portal.carrierx import CarrierXError
from portal.request_context import logged_task


def _sync() -> str:
    try:
        result = numbers_sync()
    except CarrierXError as err:
        # Recorded by numbers_sync; the task itself succeeded in doing what it could.
        return f"could not reach CarrierX: {err}"
    return f"read {result.dids} DIDs and {result.groups} DID groups"


@task()
@logged_task()
def numbers_sync_task() -> str:
    """One re-read, now (after a change the portal made)."""
    outcome = _sync()
    # A worker killed in the middle of the periodic read ends its chain (the lost task is failed,
    # not run again); any later re-read starts it again.
    if not DBTaskResult.objects.filter(
        task_path=numbers_sync_periodic.module_path, status__in=["READY", "RUNNING"]
    ).exists():
        numbers_sync_periodic.using(run_after=timezone.now() + _next_delay()).enqueue()
    return outcome


@task()
@logged_task()
def numbers_sync_periodic() -> str:
    """A re-read that queues the next one."""
    try:
        return _sync()
    finally:
        periodic.queue_next(numbers_sync_periodic, _next_delay())


def _next_delay() -> timedelta:
    interval = settings.NUMBERS_SYNC_MINUTES * 60
    status = sync_status()
    failures = status.failures if status else 0
    if failures:
        retry = settings.NUMBERS_SYNC_RETRY_SECONDS * 2 ** min(failures - 1, 16)
        return timedelta(seconds=min(retry, interval))
    return timedelta(seconds=interval)


def numbers_sync_soon() -> None:
    """Queue one re-read now, unless one is already waiting (it will see this change too)."""
    if not periodic.queued(numbers_sync_task):
        numbers_sync_task.enqueue()


def numbers_sync_schedule() -> str:
    """Start the periodic re-read, due at once; a chain already queued is brought forward rather
    than doubled (one chain is enough; two would read the carrier twice as often)."""
    if periodic.start_now(numbers_sync_periodic):
        return "The periodic re-read of numbers was already queued; it runs now."
    return (
        "Queued the first read of numbers, DID groups and the partner from CarrierX; the task "
        f"worker re-reads them every {settings.NUMBERS_SYNC_MINUTES:g} minutes."
    )


def _poll_seconds() -> float:
    return float(getattr(settings, "NUMBERS_ENABLEMENT_POLL_SECONDS", 5))


@task()
@logged_task()
def enablement_follow(did_sid: str) -> str:
    """Re-read a number's SMS enablement until it settles (the callback may never come); each run
    queues the next while the carrier still says `in_progress`, up to the 15 minutes after which
    the list calls it stuck (the Sync button or a new callback starts it again)."""
    from phone_numbers.enablement import IN_PROGRESS, STUCK_AFTER, messaging_refresh
    from phone_numbers.models import Did

    did = Did.objects.filter(did_sid=did_sid, released_at__isnull=True).first()
    if did is None:
        return "no such number"
    try:
        messaging_refresh(did)
    except CarrierXError as err:
        status = f"could not read CarrierX: {err}"
    else:
        status = did.messaging_status or "unknown"
    since = did.messaging_status_at or timezone.now()
    if did.messaging_status == IN_PROGRESS and timezone.now() - since < STUCK_AFTER:
        enablement_follow.using(
            run_after=timezone.now() + timedelta(seconds=_poll_seconds())
        ).enqueue(did_sid)
    return status


def enablement_follow_soon(did_sid: str) -> None:
    """Queue a re-read of the number's enablement, unless one is already waiting for it."""
    waiting = DBTaskResult.objects.filter(
        task_path=enablement_follow.module_path, status="READY", args_kwargs__args__0=did_sid
    ).exists()
    if not waiting:
        enablement_follow.using(
            run_after=timezone.now() + timedelta(seconds=_poll_seconds())
        ).enqueue(did_sid)
