from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from phone_numbers.sync import numbers_sync
from phone_numbers.tasks import numbers_sync_schedule
from portal.carrierx import CarrierXError


class Command(BaseCommand):
    help = (
        "Read our DIDs, DID groups and the partner's callbacks from CarrierX into the portal's "
        "cache, once (pages only ever read that cache). With --schedule, queue the read for the "
        "task worker instead, which then repeats it every NUMBERS_SYNC_MINUTES."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--schedule",
            action="store_true",
            help="queue the periodic read for the worker instead of reading now",
        )

    def handle(self, *args, schedule: bool, **options) -> None:
        if schedule:
            # `make run` uses this: in sandbox mode the carrier is the portal's own web server,
            # which is not up yet, so the worker reads once it is (retrying within seconds).
            self.stdout.write(numbers_sync_schedule())
            return
        try:
            result = numbers_sync()
        except CarrierXError as err:
            raise CommandError(f"Could not read the numbers from CarrierX: {err}") from err
        self.stdout.write(f"Read {result.dids} DIDs and {result.groups} DID groups from CarrierX.")
