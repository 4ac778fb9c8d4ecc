from __future__ import annotations

from django.core.management.base import BaseCommand
from django_tasks_db.models import DBTaskResult

from messaging.tasks import reconcile_stuck_task

TASK_PATH = reconcile_stuck_task.module_path  # "messaging.tasks.reconcile_stuck_task"


def reconcile_stuck_pending() -> bool:
    """Whether the periodic check already waits in the queue (it re-queues itself after each run,
    so one waiting means the chain is alive)."""
    return DBTaskResult.objects.filter(task_path=TASK_PATH, status="READY").exists()


class Command(BaseCommand):
    help = (
        "Check outbound messages stuck short of a final status for RECONCILE_STUCK_MINUTES against "
        "CarrierX, once: bring them to the carrier's status or flag them for staff. With "
        "--schedule, queue the periodic check for the task worker instead (it then runs every "
        "RECONCILE_STUCK_MINUTES), unless it is already queued."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--schedule",
            action="store_true",
            help="queue the periodic check for the worker instead of checking now",
        )

    def handle(self, *args, schedule: bool, **options) -> None:
        if not schedule:
            self.stdout.write(reconcile_stuck_task.call(False))
        elif reconcile_stuck_pending():
            self.stdout.write("The periodic check of stuck messages is already queued.")
        else:
            reconcile_stuck_task.enqueue(True)
            self.stdout.write("Queued the periodic check of stuck messages.")
