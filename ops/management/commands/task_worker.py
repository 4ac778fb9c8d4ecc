"""`db_worker`, plus a heartbeat: what every deployment runs as its task worker.

django-tasks-db records no sign of life, so nothing could tell a stopped worker from an idle one.
A thread writes this worker's row in `WorkerHeartbeat` every HEARTBEAT_SECONDS; `/healthz` fails
when the newest row is older than HEALTH_WORKER_STALE_SECONDS. A worker stuck inside a task still
beats, and is caught instead by the age of the oldest queued task.
"""

from __future__ import annotations

import logging
import os
import socket
import threading

from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone
from django_tasks_db.management.commands.db_worker import Command as DbWorkerCommand

from ops.models import WorkerHeartbeat

logger = logging.getLogger(__name__)


def beat(worker_id: str, started_at) -> None:
    WorkerHeartbeat.objects.update_or_create(
        worker_id=worker_id,
        defaults={
            "hostname": socket.gethostname()[:255],
            "pid": os.getpid(),
            "started_at": started_at,
            "last_seen_at": timezone.now(),
        },
    )


def _beat_once(worker_id: str, started_at) -> None:
    try:
        beat(worker_id, started_at)
    except Exception:  # a busy or restarting database: the next beat tries again
        logger.warning("heartbeat of %s not written", worker_id, exc_info=True)
    finally:
        # The heartbeat thread's own connection: closed between beats, so it holds nothing open.
        close_old_connections()
        connection.close()


def _beat_forever(worker_id: str, started_at, stop: threading.Event) -> None:
    while not stop.wait(settings.HEARTBEAT_SECONDS):
        _beat_once(worker_id, started_at)


class Command(DbWorkerCommand):
    help = "Run the task worker (django-tasks-db's db_worker) and record its heartbeat."

    def handle(self, *args, **options) -> None:
        worker_id, started_at, stop = options["worker_id"], timezone.now(), threading.Event()
        # The first beat before any task: a worker that started is visible at once.
        beat(worker_id, started_at)
        heart = threading.Thread(
            target=_beat_forever, args=(worker_id, started_at, stop), daemon=True, name="heartbeat"
        )
        heart.start()
        try:
            super().handle(*args, **options)
        finally:
            stop.set()
