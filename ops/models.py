"""What an operator watches: signs of life from the task workers."""

from __future__ import annotations

from django.db import models


class WorkerHeartbeat(models.Model):
    """A task worker saying it is alive, every HEARTBEAT_SECONDS (`manage.py task_worker`).
    `/healthz` reads the newest; one row per worker, so an operator sees which one went quiet."""

    worker_id = models.CharField(max_length=64, unique=True)
    hostname = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    last_seen_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.worker_id} on {self.hostname} (pid {self.pid})"
