from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from messaging.services.detail_records import detail_records_sync
from messaging.tasks import detail_records_sync_schedule
from portal.carrierx import CarrierXError


class Command(BaseCommand):
    help = (
        "Read the carrier's message detail records since the last read, once: real costs, send "
        "delays and error codes onto our messages, and the messages lost callbacks never brought "
        "recovered. With --schedule, queue the read for the task worker instead, which then "
        "repeats it every DETAIL_RECORDS_SYNC_MINUTES."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--schedule",
            action="store_true",
            help="queue the periodic read for the worker instead of reading now",
        )

    def handle(self, *args, schedule: bool, **options) -> None:
        if schedule:
            self.stdout.write(detail_records_sync_schedule())
            return
        try:
            result = detail_records_sync()
        except CarrierXError as err:
            raise CommandError(f"Could not read the detail records from CarrierX: {err}") from err
        self.stdout.write(f"Detail records: {result}.")
