from __future__ import annotations

from django.core.management.base import BaseCommand

from dashboard import tasks
from dashboard.rollup import rollup_recent
from portal import periodic


class Command(BaseCommand):
    help = (
        "Count recent days' messages into the dashboard's totals now (every day on the first "
        "run); with --schedule, queue the periodic recount for the task worker instead."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--schedule", action="store_true")

    def handle(self, *args, schedule: bool = False, **options) -> None:
        if schedule:
            already = periodic.start_now(tasks.dashboard_rollup_periodic)
            self.stdout.write(
                "The dashboard's recount was already queued; it runs now."
                if already
                else "Queued the dashboard's periodic recount for the task worker."
            )
            return
        self.stdout.write(rollup_recent())
