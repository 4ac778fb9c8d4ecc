"""`manage.py db_worker` in a process of its own, on the test database and the test's sandbox:
what tests that kill, restart or race workers start (the worker in a thread, tests/conftest.py's
task_worker, cannot be killed); and `shell_answer`, for a question asked of settings read
afresh."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection


def worker_database_url() -> str:
    """The test database as a DATABASE_URL, for a process that reads its settings afresh."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    password = f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


def worker_env(**extra: str) -> dict[str, str]:
    """The environment of a worker on this test's database, carrier (the sandbox at the test's
    live server) and secrets; `extra` adds or overrides settings."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "PORTAL_IGNORE_DOTENV": "1",
        "DEBUG": "1",
        "SECRET_KEY": settings.SECRET_KEY,
        "DATABASE_URL": worker_database_url(),
        "CARRIERX_SANDBOX": "1",
        "CARRIERX_TOKEN": settings.CARRIERX_TOKEN,
        "CARRIERX_API_URL": settings.CARRIERX_API_URL,
        "CARRIERX_WEBHOOK_SECRET": settings.CARRIERX_WEBHOOK_SECRET,
        **extra,
    }


def db_worker_command(*options: str) -> list[str]:
    return [
        sys.executable,
        str(settings.BASE_DIR / "manage.py"),
        "db_worker",
        "--interval",
        "0.05",
        "--no-reload",
        "--no-startup-delay",
        *options,
    ]


def start_db_worker(
    log: Path, worker_id: str, *, batch: bool = False, **extra: str
) -> subprocess.Popen:
    """A worker that runs until it is stopped (with `batch`, until nothing is due)."""
    options = ["--batch"] if batch else []
    return subprocess.Popen(
        db_worker_command(*options, "--worker-id", worker_id),
        env=worker_env(**extra),
        stdin=subprocess.DEVNULL,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )


def run_db_worker_batch(log: Path, **extra: str) -> None:
    """`db_worker --batch` to its end: every task that is due, as a worker's first run after a
    restart would."""
    with log.open("a") as out:
        subprocess.run(
            db_worker_command("--batch"),
            env=worker_env(**extra),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=True,
            timeout=120,
        )


def shell_answer(code: str, **extra: str) -> str:
    """The last line `code` prints in `manage.py shell`, in a process of its own with
    `worker_env(**extra)`: what a process started with those settings would see."""
    done = subprocess.run(
        [sys.executable, str(settings.BASE_DIR / "manage.py"), "shell", "-c", code],
        env=worker_env(**extra),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]
