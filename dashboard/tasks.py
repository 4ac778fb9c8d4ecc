"""Background entry point of the dashboard: the periodic recount of recent days."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django_tasks import task

from dashboard.rollup import rollup_recent
from portal import periodic
from portal.request_context import logged_task


@task()
@logged_task()
def dashboard_rollup_periodic() -> str:
    """A recount that queues the next, DASHBOARD_ROLLUP_MINUTES later (`manage.py
    dashboard_rollup --schedule` starts the chain; `make run` and deploy/run release do)."""
    try:
        return rollup_recent()
    finally:
        periodic.queue_next(
            dashboard_rollup_periodic, timedelta(minutes=settings.DASHBOARD_ROLLUP_MINUTES)
        )
