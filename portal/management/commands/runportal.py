from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connections
from django.urls import reverse
from django.utils.crypto import get_random_string

from messaging.services.task_leases import abandoned_tasks_recover

RESTART_FIRST, RESTART_MAX = 1.0, 30.0  # seconds; the wait doubles after each quick death
STABLE_SECONDS = 60.0  # a worker that ran this long died by accident, not on start-up
STOP_WAIT = 30.0  # a stopping worker finishes its task first; a send takes at most ~25 s
POLL = 0.2
PR_SET_PDEATHSIG = 1


@dataclass
class Supervised:
    """One task worker runportal keeps running: restarted when it exits, after a wait that
    doubles while it keeps dying soon after starting."""

    process: subprocess.Popen | None = None
    worker_id: str = ""
    started: float = 0.0
    delay: float = RESTART_FIRST
    restart_at: float = 0.0


class Command(BaseCommand):
    help = (
        "Serve the web app and the task workers (task_worker, --workers of them, default "
        "TASK_WORKERS) together on 127.0.0.1:$PORT. A worker that dies is restarted (with "
        "backoff); SIGINT (Ctrl-C), SIGTERM or SIGHUP stops them all."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--port", type=int, default=settings.PORT)
        parser.add_argument(
            "--workers",
            type=int,
            default=settings.TASK_WORKERS,
            help="task worker processes (default TASK_WORKERS, 2): a campaign's dispatcher holds "
            "one for a whole tick, and the others keep sends and callbacks moving",
        )

    def handle(self, *args, port: int, workers: int, **options) -> None:
        if workers < 1:
            raise CommandError("--workers must be at least 1.")
        stopping: list[int] = []  # the signals received; the loop below ends at the first
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, lambda received, _frame: stopping.append(received))
        with terminal_to_ourselves():
            self.serve(port, stopping, workers)

    def serve(self, port: int, stopping: list, workers: int = 1) -> None:
        # The worker runs the periodic check of stuck messages; make sure it is queued, and take
        # back what a worker of an earlier run left unfinished.
        call_command("reconcile_messages", schedule=True, stdout=self.stdout)
        self.recover()
        # runserver is threaded, which the sandbox needs: the portal calls it over HTTP from
        # inside a request served by the same process.
        web = spawn("runserver", f"127.0.0.1:{port}", "--noreload")
        self.say(f"Portal on http://127.0.0.1:{port}/ (web server pid {web.pid}).", ok=True)
        if settings.CARRIERX_SANDBOX:
            # Scripts and curl need the sandbox's token; say it here too, where the eye lands.
            self.say(
                f"Sandbox API {settings.CARRIERX_API_URL} (token {settings.CARRIERX_TOKEN}); "
                f"handset http://127.0.0.1:{port}{reverse('sandbox:phone')}"
            )
        supervised = [Supervised() for _ in range(workers)]
        for each in supervised:
            self.start_worker(each)
        while not stopping:
            if web.poll() is not None:
                stop([each.process for each in supervised])
                raise CommandError(f"The web server exited with {web.returncode}; stopped.")
            for each in supervised:
                self.supervise(each)
            time.sleep(POLL)
        stop([web, *(each.process for each in supervised)])
        self.say("Stopped the web server and the task worker.")

    def supervise(self, worker: Supervised) -> None:
        if worker.process is not None and worker.process.poll() is not None:
            if time.monotonic() - worker.started >= STABLE_SECONDS:
                worker.delay = RESTART_FIRST
            self.say(
                f"task worker exited with {worker.process.returncode}; "
                f"restarting in {worker.delay:g} s"
            )
            self.recover(dead_worker=worker.worker_id)
            worker.process, worker.restart_at = None, time.monotonic() + worker.delay
            worker.delay = min(worker.delay * 2, RESTART_MAX)
        if worker.process is None and time.monotonic() >= worker.restart_at:
            self.start_worker(worker)

    def start_worker(self, worker: Supervised) -> None:
        worker.worker_id = f"runportal-{get_random_string(12)}"
        worker.process = spawn(
            "task_worker", "--interval", "0.5", "--no-reload", "--worker-id", worker.worker_id
        )
        worker.started = time.monotonic()
        self.say(f"Task worker {worker.worker_id} started (pid {worker.process.pid}).")

    def recover(self, dead_worker: str | None = None) -> None:
        """Requeue or fail the tasks a dead worker left RUNNING (its own at once, anyone's after
        the lease): a send goes through reconciliation, a periodic check runs again."""
        try:
            for line in abandoned_tasks_recover(dead_workers=[dead_worker] if dead_worker else []):
                self.say(f"abandoned task {line}")
        except Exception as err:  # the web server must keep serving whatever this meets
            self.say(f"could not recover abandoned tasks now ({err}); the periodic check will")
        finally:
            connections.close_all()  # hold no database connection between restarts

    def say(self, line: str, *, ok: bool = False) -> None:
        self.stdout.write(self.style.SUCCESS(line) if ok else line)
        self.stdout.flush()


def spawn(*command: str) -> subprocess.Popen:
    # Each child leads a process group of its own, so Ctrl-C at the terminal reaches only us and
    # each child is told once, by us, to stop; the kernel stops them if we are killed outright.
    return subprocess.Popen(
        [sys.executable, str(settings.BASE_DIR / "manage.py"), *command],
        process_group=0,
        preexec_fn=_die_with_parent if sys.platform == "linux" else None,
    )


def _die_with_parent() -> None:
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def stop(children: list[subprocess.Popen | None]) -> None:
    """SIGTERM: the worker finishes its current task and exits 0; runserver simply ends (it may
    have been started with SIGINT ignored, as background jobs of a script are)."""
    running = [child for child in children if child is not None and child.poll() is None]
    for child in running:
        child.terminate()
    deadline = time.monotonic() + STOP_WAIT
    for child in running:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()  # its task stays RUNNING until the lease runs out
            child.wait()


@contextlib.contextmanager
def terminal_to_ourselves():
    """Make Ctrl-C ours alone, as a shell does for the job it runs.

    The terminal sends SIGINT to its whole foreground process group; under `make run` that
    includes make, which then reports the recipe as interrupted and dies by SIGINT however
    cleanly we stop. Leading a group of our own and making it the terminal's foreground keeps
    make out of it; the terminal goes back to make's group when we are done.
    """
    try:
        tty = sys.stdin.fileno()
        theirs = os.tcgetpgrp(tty)
        if theirs != os.getpgrp():
            raise OSError("not the terminal's foreground")
        os.setpgid(0, 0)
    except (OSError, ValueError):  # no terminal, not in its foreground, or a session leader
        yield
        return
    # A group in the background that changes the terminal's foreground is otherwise stopped.
    signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    try:
        os.tcsetpgrp(tty, os.getpgrp())
        yield
    finally:
        with contextlib.suppress(OSError):  # the terminal may be gone (a hang-up)
            os.tcsetpgrp(tty, theirs)
