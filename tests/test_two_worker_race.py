"""Two `manage.py db_worker` processes on one PostgreSQL, every send task queued twice: no
customer is texted twice, counted at the carrier (DESIGN: "Growing past one machine"). Needs
PostgreSQL's row locks (SKIP LOCKED, FOR UPDATE); SQLite serialises writers and would prove
nothing."""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path

import pytest
from django.db import connection
from django_tasks_db.models import DBTaskResult

from messaging.models import Message
from phone_numbers.models import Did
from phone_numbers.sync import numbers_sync
from sandbox.faults import faults_update
from sandbox.models import SandboxDid, SandboxDidGroup, SandboxMessage
from tests.worker_processes import start_db_worker

pytestmark = pytest.mark.postgres_only

SENDS = 30
WAIT = 120.0
OUR_DID = "15162065575"


@pytest.fixture(autouse=True)
def _on_postgresql_only(db) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: run with DATABASE_URL=postgres://…")


def start_worker(log: Path, worker_id: str) -> subprocess.Popen:
    """`manage.py db_worker --batch` in its own process with its own connection: it runs every
    task that is due, then exits."""
    return start_db_worker(
        log, worker_id, batch=True, SANDBOX_STEP_SECONDS="0", SANDBOX_FAILURE_RATE="0"
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
