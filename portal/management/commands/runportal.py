from __future__ import annotations

import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Serve the web app and the db_worker task worker together on 127.0.0.1:$PORT until Ctrl-C, "
        "which stops both."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--port", type=int, default=settings.PORT)

    def handle(self, *args, port: int, **options) -> None:
        manage = [sys.executable, "manage.py"]
        # The worker runs the periodic check of stuck messages; make sure it is queued.
        call_command("reconcile_messages", schedule=True, stdout=self.stdout)
        # runserver is threaded, which the sandbox needs: the portal calls it over HTTP from
        # inside a request served by the same process.
        procs = [
            subprocess.Popen([*manage, "runserver", f"127.0.0.1:{port}", "--noreload"]),
            subprocess.Popen([*manage, "db_worker", "--interval", "0.5", "--no-reload"]),
        ]
        self.stdout.write(
            self.style.SUCCESS(f"Portal on http://127.0.0.1:{port}/ with a task worker.")
            + " Ctrl-C stops both."
        )

        def stop(*_):
            for proc in procs:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGINT)

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            while all(proc.poll() is None for proc in procs):
                time.sleep(0.3)
        finally:
            stop()
            deadline = time.monotonic() + 10
            for proc in procs:
                try:
                    proc.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    proc.kill()
        if any(proc.returncode not in (0, -signal.SIGINT, 1) for proc in procs):
            sys.exit(1)
