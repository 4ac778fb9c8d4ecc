"""Two `manage.py db_worker` processes on one PostgreSQL, every send task queued twice: no
customer is texted twice, counted at the carrier (DESIGN: "Growing past one machine"). Needs
PostgreSQL's row locks (SKIP LOCKED, FOR UPDATE); SQLite serialises writers and would prove
nothing."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django_tasks_db.models import DBTaskResult

from messaging.models import Message
from phone_numbers.models import Did
from phone_numbers.sync import numbers_sync
from sandbox.faults import faults_update
from sandbox.models import SandboxDid, SandboxDidGroup, SandboxMessage

pytestmark = pytest.mark.postgres_only

SENDS = 30
WAIT = 120.0
OUR_DID = "15162065575"


@pytest.fixture(autouse=True)
def _on_postgresql_only(db) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: run with DATABASE_URL=postgres://…")


def worker_database_url() -> str:
    db = connection.settings_dict
    password = f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


def start_worker(log: Path, worker_id: str) -> subprocess.Popen:
    """`manage.py db_worker --batch` in its own process with its own connection: it runs every
    task that is due, then exits."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "PORTAL_IGNORE_DOTENV": "1",
        "DEBUG": "1",
        "SECRET_KEY": django_settings.SECRET_KEY,
        "DATABASE_URL": worker_database_url(),
        "CARRIERX_SANDBOX": "1",
        "CARRIERX_TOKEN": django_settings.CARRIERX_TOKEN,
        "CARRIERX_API_URL": django_settings.CARRIERX_API_URL,
        "CARRIERX_WEBHOOK_SECRET": django_settings.CARRIERX_WEBHOOK_SECRET,
        "SANDBOX_STEP_SECONDS": "0",
        "SANDBOX_FAILURE_RATE": "0",
    }
    command = ["db_worker", "--batch", "--interval", "0.05", "--no-reload", "--no-startup-delay"]
    return subprocess.Popen(
        [sys.executable, str(django_settings.BASE_DIR / "manage.py"), *command]
        + ["--worker-id", worker_id],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )


def queue_every_task_twice() -> None:
    """As if each send had been queued twice (a double submit, a lease recovered too early)."""
    for task in list(DBTaskResult.objects.filter(status="READY")):
        task.pk = uuid.uuid4()
        task._state.adding = True
        task.save()


def test_two_workers_with_every_send_queued_twice_text_each_customer_exactly_once(
    sandbox, sender_client, tmp_path
):
    # Nobody listens for callbacks here: what counts is what reached the carrier.
    sandbox.callbacks = {}
    sandbox.save(update_fields=["callbacks"])
    SandboxDid.objects.update(callback_url=None)
    SandboxDidGroup.objects.update(callback_url=None)
    numbers_sync()
    assert Did.objects.filter(phonenumber=OUR_DID).exists()
    for n in range(SENDS):
        response = sender_client.post(
            "/messaging/",
            {"from_did": OUR_DID, "to_did": f"151620{66000 + n}", "message": f"Race {n}"},
        )
        assert response.status_code == 302
    queue_every_task_twice()
    # Each send takes a moment at the carrier, so both workers are busy at once.
    faults_update({"latency_seconds": 0.1})

    workers = [start_worker(tmp_path / f"{name}.log", name) for name in ("w1", "w2")]
    try:
        deadline = time.monotonic() + WAIT
        for worker in workers:
            worker.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait(timeout=10)
    logs = {name: (tmp_path / f"{name}.log").read_text() for name in ("w1", "w2")}
    assert [worker.returncode for worker in workers] == [0, 0], logs

    sends = DBTaskResult.objects.filter(task_path__endswith=".send_message_task")
    assert sends.count() == 2 * SENDS
    assert not sends.exclude(status="SUCCESSFUL").exists(), logs
    ran_by = {worker_id for ids in sends.values_list("worker_ids", flat=True) for worker_id in ids}
    assert ran_by == {"w1", "w2"}, "both workers must have taken send tasks"

    at_the_carrier = SandboxMessage.objects.filter(direction="outbound")
    assert at_the_carrier.count() == SENDS
    assert sorted(at_the_carrier.values_list("to_number", flat=True)) == [
        f"151620{66000 + n}" for n in range(SENDS)
    ]
    # Each message's second task found it already sent.
    assert sends.filter(return_value="nothing to send").count() == SENDS
    messages = Message.objects.filter(direction="outbound")
    assert messages.count() == SENDS
    assert set(messages.values_list("send_attempts", flat=True)) == {1}
    assert set(messages.values_list("message_sid", flat=True)) == set(
        at_the_carrier.values_list("message_sid", flat=True)
    )
