"""`/healthz`: can this deployment do its job right now? Cheap, no sign-in, no secrets.

Failing checks (answer 503, for a load balancer or a monitor): the database cannot be reached,
migrations are not all applied, no worker has beaten recently, the task queue is backed up.
Reported but never failing: the carrier's last successful call and the last number sync. A
carrier outage is not this process's fault, and taking every web process out of the load
balancer for it would also take the inbox away.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.db.models import Count, Max, Min, Q
from django.utils import timezone
from django_tasks_db.models import DBTaskResult, get_date_max

from messaging.models import CarrierHealth
from ops.models import WorkerHeartbeat
from phone_numbers.models import SyncStatus


@dataclass
class Health:
    checks: dict = field(default_factory=dict)
    failing: list[str] = field(default_factory=list)

    def check(self, name: str, ok: bool, **facts) -> None:
        self.checks[name] = {"ok": ok, **facts}
        if not ok:
            self.failing.append(name)

    @property
    def ok(self) -> bool:
        return not self.failing

    def as_json(self) -> dict:
        return {"status": "ok" if self.ok else "fail", "failing": self.failing, **self.checks}


def _age(moment: datetime | None, now: datetime) -> float | None:
    return None if moment is None else round((now - moment).total_seconds(), 1)


# Migrations, once all applied, stay applied for the life of the process: reading the migration
# graph costs tens of milliseconds, so it is read again only while something is missing.
_migrated = False


def _migrations_pending() -> int:
    global _migrated
    if _migrated:
        return 0
    executor = MigrationExecutor(connection)
    pending = len(executor.migration_plan(executor.loader.graph.leaf_nodes()))
    _migrated = pending == 0
    return pending


def health_check() -> Health:
    health = Health()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as err:
        health.check("database", False, error=type(err).__name__)
        return health
    health.check("database", True)
    try:
        _check_tables(health)
    except DatabaseError as err:
        # Reachable, but the tables are not there (or not readable): not migrated, most likely.
        health.check("tables", False, error=type(err).__name__)
    return health


def _check_tables(health: Health) -> None:
    now = timezone.now()
    pending = _migrations_pending()
    health.check("migrations", pending == 0, pending=pending)

    workers = worker_facts()
    age = workers["heartbeat_age_seconds"]
    health.check(
        "worker",
        age is not None and age <= settings.HEALTH_WORKER_STALE_SECONDS,
        heartbeat_age_seconds=age,
        workers_alive=workers["alive"],
    )
    queue = queue_facts()
    oldest = queue["oldest_age_seconds"]
    health.check(
        "queue",
        queue["depth"] <= settings.HEALTH_QUEUE_MAX_DEPTH
        and (oldest is None or oldest <= settings.HEALTH_QUEUE_MAX_AGE_SECONDS),
        **queue,
    )

    carrier = CarrierHealth.objects.filter(pk=CarrierHealth.ROW).first()
    health.checks["carrier"] = {
        "last_success_age_seconds": _age(carrier and carrier.last_success_at, now),
        "consecutive_failures": carrier.consecutive_failures if carrier else 0,
    }
    sync = SyncStatus.objects.filter(pk=SyncStatus.ROW).first()
    health.checks["number_sync"] = {
        "last_success_age_seconds": _age(sync and sync.last_success_at, now),
        "failures": sync.failures if sync else 0,
    }


def worker_facts() -> dict:
    now = timezone.now()
    stale = now - timedelta(seconds=settings.HEALTH_WORKER_STALE_SECONDS)
    beats = WorkerHeartbeat.objects.aggregate(
        newest=Max("last_seen_at"), alive=Count("id", filter=Q(last_seen_at__gte=stale))
    )
    return {"heartbeat_age_seconds": _age(beats["newest"], now), "alive": beats["alive"]}


def queue_facts() -> dict:
    """Tasks ready to run, and how long the oldest has waited: since it was queued, or, if it was
    queued for later, since its time came."""
    now = timezone.now()
    never = get_date_max()
    queue = DBTaskResult.objects.ready().aggregate(
        depth=Count("id"),
        queued=Min("enqueued_at", filter=Q(run_after=never)),
        due=Min("run_after", filter=~Q(run_after=never)),
    )
    waiting = [moment for moment in (queue["queued"], queue["due"]) if moment is not None]
    return {
        "depth": queue["depth"],
        "oldest_age_seconds": _age(min(waiting), now) if waiting else None,
    }
