"""Progress of a list read row by row in the background (a contacts import, a campaign's
recipient list): the worker records how far it is, the page polls it and shows a bar with rows
read of the total and an estimated finish.

Both jobs keep the same fields (`state`, `rows_read`, `rows_total`, `started_at`), so the
bookkeeping and the bar (templates/_rows_progress.html) are written once here."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

from django.db.models import QuerySet
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

# A progress write every 500 rows: a 50,000-row list costs 100 small UPDATEs, and the page,
# polling every second, still sees the bar move several times a second's worth of rows.
PROGRESS_EVERY = 500

RUNNING = "running"  # the `state` of a job being read, in both jobs' choices
Row = TypeVar("Row")
Progress = Callable[[int, int], None]


def progress_recorder(jobs: QuerySet) -> Progress:
    """`progress(rows read, rows)` that writes both onto the job row(s) of `jobs`. Called outside
    any transaction, so the page's connection sees it at once."""

    def progress(read: int, total: int) -> None:
        jobs.update(rows_read=read, rows_total=total)

    return progress


def rows_counted(rows: Sequence[Row], progress: Progress | None) -> Iterator[Row]:
    """The rows, one by one, reporting progress every PROGRESS_EVERY rows and once at the end."""
    total = len(rows)
    for i, row in enumerate(rows, start=1):
        yield row
        if progress is not None and i % PROGRESS_EVERY == 0:
            progress(i, total)
    if progress is not None:
        progress(total, total)


def read_progress(job) -> dict:
    """What the progress bar shows of `job` (its `state`, `started_at`, `rows_read`,
    `rows_total`): the percentage read, and while it runs the finish time at its pace so far
    (None until a first batch is read)."""
    rows_read, rows_total, started_at = job.rows_read, job.rows_total, job.started_at
    percent = round(100 * rows_read / rows_total) if rows_total else 0
    finish_at = None
    if job.state == RUNNING and started_at and rows_read:
        elapsed = timezone.now() - started_at
        finish_at = started_at + elapsed * (rows_total / rows_read)
    return {"percent": percent, "finish_at": finish_at}


def job_enqueue(job, task) -> None:
    """Queue `task` for `job` and keep the task's id on the job's row, which `worker_lost` reads."""
    job.task_id = str(task.enqueue(job.pk).id)
    type(job).objects.filter(pk=job.pk).update(task_id=job.task_id)


def worker_lost(*, task_id: str, finished: bool) -> bool:
    """Whether a job's task failed for good without the job saying so: its worker was killed each
    time it ran it (messaging/services/task_leases.py gives up after three), or met an error of
    ours. The job's own row would say "running" forever; its page says it stopped instead."""
    if finished or not task_id:
        return False
    return DBTaskResult.objects.filter(pk=task_id, status="FAILED").exists()
