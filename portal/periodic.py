"""Periodic task chains: each run queues the next, so there is no scheduler to run. Helpers shared
by every chain (the numbers re-read, the detail-record read)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from django_tasks_db.models import DBTaskResult


def queued(task_) -> DBTaskResult | None:
    """The run of `task_` waiting in the queue, if any."""
    return DBTaskResult.objects.filter(task_path=task_.module_path, status="READY").first()


def queue_next(task_, delay: timedelta) -> None:
    """Queue the chain's next run `delay` from now, unless one is already waiting."""
    if not queued(task_):
        task_.using(run_after=timezone.now() + delay).enqueue()


def start_now(task_) -> bool:
    """Start the chain, due at once; a run already queued is brought forward, not doubled.
    True when one was already queued."""
    waiting = queued(task_)
    if waiting is not None:
        DBTaskResult.objects.filter(pk=waiting.pk, status="READY").update(run_after=timezone.now())
        return True
    task_.enqueue()
    return False
