"""A 1,000-recipient campaign whose worker is killed (SIGKILL) twice mid-send, as real
`manage.py db_worker` processes against the sandbox over HTTP: after recovery every recipient ends
sent, failed, cancelled or flagged, and nobody is texted twice (counted at the sandbox).

Recovery as runportal does it: the dead worker's tasks go back to the queue at once
(abandoned_tasks_recover with its id); the next dispatcher gives back what the dead one claimed
after CAMPAIGN_CLAIM_LEASE_SECONDS and hands what it posted without an answer to reconciliation
once the carrier's read timeout has passed."""

from __future__ import annotations

import signal
import subprocess
import time
from decimal import Decimal
from pathlib import Path

import pytest
from django.db.models import Count

from campaigns import services
from campaigns.models import Campaign, Recipient
from campaigns.recipients import read_pasted, recipients_prepare
from messaging.models import Message, Status
from messaging.services.task_leases import abandoned_tasks_recover
from phone_numbers.models import Did
from phone_numbers.sync import numbers_sync
from sandbox.faults import faults_update
from sandbox.models import SandboxMessage
from tests.conftest import run_tasks
from tests.worker_processes import start_db_worker

pytestmark = pytest.mark.django_db(transaction=True)

RECIPIENTS = 1000
RATE = 25  # per DID, two DIDs
WAIT = 300.0  # a bound on waiting, not on speed: a loaded CI machine is slow


def start_worker(log: Path, worker_id: str, **extra: str) -> subprocess.Popen:
    """`manage.py db_worker`, as runportal's task worker: it runs until it is stopped."""
    short = {
        "SEND_BACKOFF_SECONDS": "0",
        "SEND_RECONCILE_DELAY_SECONDS": "0",
        # Short, so recovery fits in a test: a send unanswered for 1 + 2 s counts as abandoned,
        # a claim older than 2 s as a dead dispatcher's.
        "CARRIERX_CONNECT_TIMEOUT": "1",
        "CARRIERX_READ_TIMEOUT": "2",
        "CAMPAIGN_CLAIM_LEASE_SECONDS": "2",
        "CAMPAIGN_TICK_SECONDS": "5",
    }
    return start_db_worker(log, worker_id, **{**short, **extra})


def wait_for(condition, what: str, logs: Path, within: float = WAIT):
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.05)
    found = "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(logs.glob("*.log")))
    raise AssertionError(f"timed out waiting for {what}\n{found}")


def at_carrier() -> int:
    return SandboxMessage.objects.filter(direction="outbound").count()


def kill(worker: subprocess.Popen, worker_id: str) -> list[str]:
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=30)
    # What runportal does when it sees its worker gone.
    return abandoned_tasks_recover(dead_workers=[worker_id])


@pytest.fixture
def campaign(sandbox, settings, sender):
    # Only what reaches the carrier counts: its status steps (and their callbacks) wait.
    settings.SANDBOX_STEP_SECONDS = 3600
    numbers_sync()
    pool = list(
        Did.objects.filter(released_at__isnull=True)
        .order_by("phonenumber")
        .values_list("phonenumber", flat=True)[:2]
    )
    campaign = Campaign.objects.create(
        name="Crash", body="Hi", dids=pool, created_by=sender, rate_per_did=Decimal(RATE)
    )
    numbers = "\n".join(f"+1212555{i:04d}" for i in range(RECIPIENTS))
    assert recipients_prepare(campaign, read_pasted(numbers))["send"] == RECIPIENTS
    # Each send takes a while at the carrier, so a kill lands with calls in flight.
    faults_update({"latency_seconds": 0.3})
    return campaign


def test_a_campaign_whose_worker_is_killed_twice_texts_everyone_once(campaign, tmp_path):
    services.campaign_start(campaign)
    workers: list[subprocess.Popen] = []
    try:
        recovered, cut_off = [], set()
        for n, reached in enumerate((200, 500), start=1):
            worker = start_worker(tmp_path / f"w{n}.log", f"w{n}")
            workers.append(worker)
            wait_for(lambda reached=reached: at_carrier() >= reached, f"{reached} sent", tmp_path)
            recovered += kill(worker, f"w{n}")
            # Posted (or about to be) when the worker died, no answer recorded.
            cut_off |= set(
                Message.objects.filter(status=Status.SENDING).values_list("pk", flat=True)
            )
        assert cut_off, "the kills should land with sends in flight"
        # Each kill found the dispatcher running and put it back in the queue.
        assert [line.split(":")[-1].strip() for line in recovered if "campaign" in line] == [
            "requeued",
            "requeued",
        ]
        assert at_carrier() < RECIPIENTS

        workers.append(start_worker(tmp_path / "w3.log", "w3"))

        def finished() -> bool:
            return Campaign.objects.get(pk=campaign.pk).state == Campaign.State.FINISHED

        wait_for(finished, "the campaign to finish", tmp_path)
    finally:
        for worker in workers:
            if worker.poll() is None:
                # Stopped as a deploy stops it: it finishes the task in hand (a reconciliation
                # the last dispatcher queued, say) and exits; killed only if it will not.
                worker.terminate()
                try:
                    worker.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    worker.kill()
                    worker.wait(timeout=30)
    run_tasks()  # the reconciliations the last dispatcher queued, if the worker had not yet

    recipients = Recipient.objects.filter(campaign=campaign).select_related("message")
    states = dict(recipients.values_list("state").annotate(n=Count("id")))
    assert states == {"messaged": RECIPIENTS}
    for r in recipients:
        settled = r.message.message_sid and r.message.status in (
            Status.QUEUED,
            Status.SENT,
            Status.DELIVERED,
        )
        assert settled or r.message.status == Status.FAILED or r.message.needs_attention, (
            r.number,
            r.message.status,
            r.message.error,
        )
    # Nobody texted twice, everybody once: counted at the carrier.
    texted = SandboxMessage.objects.filter(direction="outbound")
    assert texted.count() == RECIPIENTS
    assert texted.values("to_number").distinct().count() == RECIPIENTS
    # The sends the kills cut off were asked about: adopted from the carrier, or sent once more
    # only where it had none (killed before the call left); either way one text each, above.
    assert set(Message.objects.filter(resent=True).values_list("pk", flat=True)) <= cut_off
