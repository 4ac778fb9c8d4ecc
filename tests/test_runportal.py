"""`manage.py runportal` (what `make run` serves) as real processes: the portal keeps serving when
its task worker dies and restarts the worker (issue 10, item 6); every way of stopping ends both
children with exit 0 (issue 12, *Stopping*), Ctrl-C under `make run` included.

Each runs against a temporary SQLite file, never port 8000, with every wait bounded."""

from __future__ import annotations

import os
import pty
import re
import select
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from django.conf import settings

BASE_DIR = Path(settings.BASE_DIR)
WAIT = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_env(database: Path, **extra: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "PORTAL_IGNORE_DOTENV": "1",  # the checkout's .env is a developer's, not the test's
        "DEBUG": "1",
        "DATABASE_URL": f"sqlite:///{database}",
        # One task worker unless a test asks for more: these follow one worker's life.
        "TASK_WORKERS": "1",
        **extra,
    }


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(BASE_DIR / "manage.py"), *args],
        env=env,
        cwd=BASE_DIR,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


@pytest.fixture(scope="module")
def database(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("runportal") / "portal.sqlite3"
    manage("migrate", "--noinput", env=clean_env(path))
    return path


def wait_for(condition, what: str, within: float = WAIT):
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def answers(url: str) -> int | None:
    request = urllib.request.Request(url)
    opener = urllib.request.build_opener(NoRedirect)
    try:
        return opener.open(request, timeout=5).status
    except urllib.error.HTTPError as err:
        return err.code
    except OSError:
        return None


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def alive(pid: int) -> bool:
    """Running, not merely a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


class Portal:
    """`manage.py runportal --port <free port>` in a subprocess, its output in a file."""

    def __init__(
        self, database: Path, log: Path, port: int | None = None, preexec_fn=None, **env: str
    ) -> None:
        self.port = port or free_port()
        self.log = log
        self.process = subprocess.Popen(
            [sys.executable, str(BASE_DIR / "manage.py"), "runportal", "--port", str(self.port)],
            env=clean_env(database, PORT=str(self.port), **env),
            cwd=BASE_DIR,
            # Not the terminal pytest may run in: runportal would take its foreground.
            stdin=subprocess.DEVNULL,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            preexec_fn=preexec_fn,
        )
        self.login = f"http://127.0.0.1:{self.port}/accounts/login/"

    def output(self) -> str:
        return self.log.read_text()

    def pids(self, pattern: str) -> list[int]:
        return [int(pid) for pid in re.findall(pattern, self.output())]

    def web_pid(self) -> int:
        return wait_for(lambda: self.pids(r"web server pid (\d+)"), "the web server")[0]

    def worker_pids(self) -> list[int]:
        return self.pids(r"Task worker \S+ started \(pid (\d+)\)")

    def serving(self) -> None:
        wait_for(lambda: answers(self.login) == 200, f"{self.login}:\n{self.output()}")

    def exit_code(self) -> int:
        try:
            return self.process.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=WAIT)
        for pid in [*self.pids(r"web server pid (\d+)"), *self.worker_pids()]:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def portal(database, tmp_path):
    running = Portal(database, tmp_path / "runportal.log")
    yield running
    running.close()


def query(database: Path, sql: str, *params) -> list[tuple]:
    """Read the portal's database as it is now (no Django here: it is another process's)."""
    with sqlite3.connect(database, timeout=10) as db:
        return db.execute(sql, params).fetchall()


def task_status(database: Path, task_id: str) -> str | None:
    found = query(
        database,
        "SELECT status FROM django_tasks_database_dbtaskresult WHERE id = ?",
        uuid.UUID(task_id).hex,
    )
    return found[0][0] if found else None


def test_the_portal_keeps_serving_when_its_worker_is_killed_and_a_new_worker_runs_tasks(
    portal, database
):
    portal.serving()
    [worker] = wait_for(portal.worker_pids, "the task worker")
    assert "task_worker" in cmdline(worker)

    killed_at = time.monotonic()
    os.kill(worker, signal.SIGKILL)
    assert answers(portal.login) == 200
    new_worker = wait_for(lambda: portal.worker_pids()[1:], "a new worker")[0]
    restart_latency = time.monotonic() - killed_at

    assert alive(new_worker) and "task_worker" in cmdline(new_worker)
    assert "task worker exited with -9; restarting in 1 s" in portal.output()
    # The 1 s wait plus noticing the death and spawning: seconds, even on a loaded machine.
    assert restart_latency < 10
    assert answers(portal.login) == 200
    assert portal.process.poll() is None
    # A task enqueued afterwards is done by the new worker.
    enqueue = "from messaging.tasks import reconcile_stuck_task as t; "
    enqueue += "print('task', t.enqueue(False).id)"
    shell = manage("shell", "-c", enqueue, env=clean_env(database)).stdout
    task_id = re.search(r"^task (\S+)$", shell, re.M).group(1)
    wait_for(lambda: task_status(database, task_id) == "SUCCESSFUL", "the task to be done")


def test_two_workers_are_started_and_each_is_restarted_alone_when_it_dies(database, tmp_path):
    portal = Portal(database, tmp_path / "runportal.log", TASK_WORKERS="2")
    try:
        portal.serving()
        first, second = wait_for(lambda: portal.worker_pids()[1:] and portal.worker_pids(), "two")
        ids = re.findall(r"Task worker (\S+) started", portal.output())
        assert len(set(ids)) == 2 and all(alive(pid) for pid in (first, second))
        assert all("task_worker" in cmdline(pid) for pid in (first, second))

        os.kill(first, signal.SIGKILL)
        third = wait_for(lambda: portal.worker_pids()[2:], "a new worker")[0]

        assert alive(second) and alive(third) and not alive(first)
        assert portal.output().count("task worker exited with -9; restarting in 1 s") == 1
        # Tasks queued now are done (by either worker).
        enqueue = "from messaging.tasks import reconcile_stuck_task as t; "
        enqueue += "print('task', t.enqueue(False).id); print('task', t.enqueue(False).id)"
        shell = manage("shell", "-c", enqueue, env=clean_env(database)).stdout
        for task_id in re.findall(r"^task (\S+)$", shell, re.M):
            wait_for(lambda t=task_id: task_status(database, t) == "SUCCESSFUL", "the tasks")

        portal.process.terminate()
        assert portal.exit_code() == 0
        assert not any(alive(pid) for pid in (second, third))
    finally:
        portal.close()


SEND_SLOWLY = """
from messaging.services.outbound import message_send
from sandbox.faults import faults_update

faults_update({"latency_seconds": 2})
print("message", message_send(from_number="15162065575", to="15162065574", body="Mid-send").pk)
"""


def test_a_send_whose_worker_is_killed_mid_post_is_adopted_from_the_carrier_not_sent_again(
    tmp_path,
):
    database = tmp_path / "portal.sqlite3"
    port = free_port()
    env = {"SEND_RECONCILE_DELAY_SECONDS": "0", "CARRIERX_READ_TIMEOUT": "3"}
    manage("migrate", "--noinput", env=clean_env(database))
    manage("sandbox_seed", env=clean_env(database, PORT=str(port)))
    portal = Portal(database, tmp_path / "runportal.log", port=port, **env)
    try:
        portal.serving()
        [worker] = wait_for(portal.worker_pids, "the task worker")
        shell = manage("shell", "-c", SEND_SLOWLY, env=clean_env(database, **env)).stdout
        message = int(re.search(r"^message (\d+)$", shell, re.M).group(1))
        attempts = "SELECT send_attempts FROM messaging_message WHERE id = ?"
        wait_for(lambda: query(database, attempts, message) == [(1,)], "the worker's POST")
        time.sleep(0.5)  # the POST is on its way; the carrier answers after 2 s

        os.kill(worker, signal.SIGKILL)

        settled = "SELECT message_sid, status, resent FROM messaging_message WHERE id = ?"
        wait_for(lambda: query(database, settled, message)[0][0], "the carrier's SID")
        [(sid, status, resent)] = query(database, settled, message)
        at_carrier = "SELECT message_sid FROM sandbox_sandboxmessage WHERE message = 'Mid-send'"
        assert query(database, at_carrier) == [(sid,)]  # texted once, and that copy adopted
        assert status not in ("sending", "unknown") and not resent
        sends = "SELECT status FROM django_tasks_database_dbtaskresult WHERE task_path = ?"
        assert query(database, sends, "messaging.tasks.send_message_task") == [("FAILED",)]
        assert re.search(
            rf"abandoned task messaging.tasks.send_message_task \S+ \(worker runportal-\w+\): "
            rf"failed; message {message} is unknown; reconciling in \d+ s",
            portal.output(),
        )
    finally:
        portal.close()


def test_a_worker_that_keeps_dying_is_restarted_with_a_growing_wait(portal):
    portal.serving()
    for n in range(3):
        worker = wait_for(lambda n=n: portal.worker_pids()[n:], f"worker {n + 1}")[0]
        os.kill(worker, signal.SIGKILL)
    wait_for(lambda: portal.worker_pids()[3:], "a fourth worker", within=WAIT)

    waits = re.findall(r"task worker exited with -9; restarting in (\d+) s", portal.output())
    assert waits == ["1", "2", "4"]
    assert answers(portal.login) == 200


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_signal_ends_the_web_server_and_the_worker_with_exit_0(portal, stop_signal):
    portal.serving()
    web = portal.web_pid()
    [worker] = wait_for(portal.worker_pids, "the task worker")

    portal.process.send_signal(stop_signal)

    assert portal.exit_code() == 0
    assert not alive(web) and not alive(worker)
    assert answers(portal.login) is None
    assert "Stopped the web server and the task worker." in portal.output()


def test_sigterm_stops_both_when_started_with_sigint_ignored_as_a_scripts_background_job(
    database, tmp_path
):
    # `make run &` from a script: the shell starts it with SIGINT ignored, which its children
    # inherit; runserver then ignored the SIGINT it was stopped with and kept serving.
    portal = Portal(
        database,
        tmp_path / "runportal.log",
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        portal.serving()
        web = portal.web_pid()
        [worker] = wait_for(portal.worker_pids, "the task worker")

        portal.process.terminate()

        assert portal.exit_code() == 0
        assert not alive(web) and not alive(worker)
        assert answers(portal.login) is None
    finally:
        portal.close()


def test_when_the_web_server_dies_the_worker_is_stopped_and_runportal_fails(portal):
    portal.serving()
    web = portal.web_pid()
    [worker] = wait_for(portal.worker_pids, "the task worker")

    os.kill(web, signal.SIGKILL)

    assert portal.exit_code() == 1
    assert not alive(worker)
    assert "The web server exited with -9" in portal.output()


def test_killing_runportal_outright_takes_its_children_with_it(portal):
    portal.serving()
    web = portal.web_pid()
    [worker] = wait_for(portal.worker_pids, "the task worker")

    portal.process.kill()
    portal.process.wait(timeout=WAIT)

    wait_for(lambda: not alive(web) and not alive(worker), "the children to stop")


@pytest.mark.skipif(shutil.which("make") is None, reason="needs GNU make")
def test_ctrl_c_ends_make_run_with_exit_0_and_no_make_error(tmp_path):
    """At a terminal, as people run it: Ctrl-C is SIGINT to the terminal's foreground group."""
    port = free_port()
    env = clean_env(
        tmp_path / "portal.sqlite3",
        DJANGO_SUPERUSER_USERNAME="admin",
        DJANGO_SUPERUSER_PASSWORD="a-long-test-password-1234",
    )
    pid, terminal = pty.fork()
    if pid == 0:  # the child: make on the new terminal; `-o` keeps make from reinstalling
        os.chdir(BASE_DIR)
        os.execvpe("make", ["make", "-o", ".venv/.installed", "run", f"PORT={port}"], env)
    seen = bytearray()

    def read_until(done, within: float) -> None:
        deadline = time.monotonic() + within
        while not done() and time.monotonic() < deadline:
            if select.select([terminal], [], [], 0.1)[0]:
                try:
                    seen.extend(os.read(terminal, 65536))
                except OSError:  # the terminal closed: make has exited
                    return

    try:
        read_until(lambda: answers(f"http://127.0.0.1:{port}/accounts/login/") == 200, 90)
        assert answers(f"http://127.0.0.1:{port}/accounts/login/") == 200, seen.decode()
        os.write(terminal, b"\x03")  # Ctrl-C
        read_until(lambda: b"Stopped" in seen, WAIT)
        deadline = time.monotonic() + WAIT
        while (waited := os.waitpid(pid, os.WNOHANG)) == (0, 0):
            assert time.monotonic() < deadline, seen.decode()
            read_until(lambda: False, 0.1)
    except BaseException:
        os.kill(pid, signal.SIGKILL)
        raise
    finally:
        os.close(terminal)
    output = seen.decode(errors="replace")
    assert os.waitstatus_to_exitcode(waited[1]) == 0, output
    assert "make: ***" not in output
    assert "Stopped the web server and the task worker." in output
    assert answers(f"http://127.0.0.1:{port}/accounts/login/") is None
