"""Tasks a dead worker left RUNNING (issue 10, item 6): requeued or failed after the lease, and a
send among them reconciled with the carrier rather than sent again blindly — once against a real
`manage.py db_worker` process SIGKILLed in the middle of its POST."""

from __future__ import annotations

import signal
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from messaging.models import Direction, Message, Status
from messaging.services.outbound import message_send
from messaging.services.task_leases import WorkerLost, abandoned_tasks_recover
from messaging.tasks import (
    auto_reply_task,
    reconcile_message_task,
    reconcile_stuck_task,
    send_message_task,
)
from sandbox.faults import faults_update
from sandbox.models import SandboxMessage
from tests.conftest import task_worker
from tests.worker_processes import start_db_worker

OUR_DID = "15162065575"
HANDSET = "15162065574"
SEND_TASK = send_message_task.module_path
RECONCILE_TASK = reconcile_message_task.module_path
WAIT = 30.0  # every wait is bounded: a failure must never hang the suite


def outbound(*, send_attempts: int, status: str = Status.SENDING) -> Message:
    return Message.objects.create(
        direction=Direction.OUTBOUND,
        our_number=OUR_DID,
        their_number=HANDSET,
        body="Your code is 1234",
        status=status,
        send_attempts=send_attempts,
    )


def left_running(task, *args, started_ago: float = 600, worker: str = "gone", claims: int = 1):
    """A task row as a worker leaves it when it is killed in the middle of running it."""
    result = task.enqueue(*args)
    DBTaskResult.objects.filter(pk=result.id).update(
        status="RUNNING",
        started_at=timezone.now() - timedelta(seconds=started_ago),
        worker_ids=[f"earlier-{n}" for n in range(claims - 1)] + [worker],
    )
    return DBTaskResult.objects.get(pk=result.id)


def row(result: DBTaskResult) -> DBTaskResult:
    return DBTaskResult.objects.get(pk=result.pk)


def queued(task_path: str) -> list[DBTaskResult]:
    return list(DBTaskResult.objects.filter(task_path=task_path, status="READY"))


# --- the reaper on crafted rows ------------------------------------------------------------------


@pytest.mark.django_db
def test_a_send_running_past_the_lease_fails_and_its_message_goes_to_reconciliation(settings):
    settings.TASK_LEASE_SECONDS = 300
    settings.SEND_RECONCILE_DELAY_SECONDS = 10
    message = outbound(send_attempts=1)
    task = left_running(send_message_task, message.pk, started_ago=301)

    [line] = abandoned_tasks_recover()

    assert "failed" in line and "reconciling" in line
    task = row(task)
    assert task.status == "FAILED"
    assert task.exception_class_path == "messaging.services.task_leases.WorkerLost"
    assert "worker gone stopped while running this task" in task.traceback
    message.refresh_from_db()
    assert message.status == Status.UNKNOWN
    assert "stopped while sending" in message.error
    assert queued(SEND_TASK) == []  # never POSTed again blindly
    [reconcile] = queued(RECONCILE_TASK)
    assert reconcile.args_kwargs["args"] == [message.pk, 1]
    # Long after the POST could have been answered: only the usual wait after a timeout.
    assert reconcile.run_after == pytest.approx(
        timezone.now() + timedelta(seconds=10), abs=timedelta(seconds=5)
    )


@pytest.mark.django_db
def test_reconciling_waits_until_a_post_still_in_flight_would_have_been_answered(settings):
    settings.SEND_RECONCILE_DELAY_SECONDS = 10
    settings.CARRIERX_TIMEOUT = (5.0, 20.0)
    message = outbound(send_attempts=1)
    task = left_running(send_message_task, message.pk, started_ago=2, worker="killed")

    abandoned_tasks_recover(dead_workers=["killed"])

    [reconcile] = queued(RECONCILE_TASK)
    answered_by = task.started_at + timedelta(seconds=25)
    assert reconcile.run_after == pytest.approx(
        answered_by + timedelta(seconds=10), abs=timedelta(seconds=1)
    )


@pytest.mark.django_db
def test_a_send_that_never_reached_its_post_is_simply_sent(settings):
    message = outbound(send_attempts=0)
    task = left_running(send_message_task, message.pk)

    abandoned_tasks_recover()

    assert row(task).status == "FAILED"
    message.refresh_from_db()
    assert message.status == Status.SENDING
    [send] = queued(SEND_TASK)
    assert send.args_kwargs["args"] == [message.pk]
    assert queued(RECONCILE_TASK) == []


@pytest.mark.django_db
def test_a_send_whose_message_was_settled_before_the_worker_died_leaves_the_message_alone():
    message = outbound(send_attempts=1, status=Status.QUEUED)
    Message.objects.filter(pk=message.pk).update(message_sid="sid-from-the-carrier")
    task = left_running(send_message_task, message.pk)

    [line] = abandoned_tasks_recover()

    assert line.endswith(f"message {message.pk} was already queued")
    assert row(task).status == "FAILED"
    message.refresh_from_db()
    assert (message.status, message.message_sid) == (Status.QUEUED, "sid-from-the-carrier")
    assert queued(SEND_TASK) == queued(RECONCILE_TASK) == []


@pytest.mark.django_db
def test_a_task_of_a_live_worker_within_the_lease_is_left_running(settings):
    settings.TASK_LEASE_SECONDS = 300
    message = outbound(send_attempts=1)
    task = left_running(send_message_task, message.pk, started_ago=30, worker="alive")

    assert abandoned_tasks_recover(dead_workers=["some-other-worker"]) == []

    assert row(task).status == "RUNNING"
    message.refresh_from_db()
    assert message.status == Status.SENDING


@pytest.mark.django_db
def test_a_dead_workers_own_task_is_recovered_at_once_and_only_its_own(settings):
    settings.TASK_LEASE_SECONDS = 300
    dead = left_running(reconcile_message_task, 1, 1, started_ago=1, worker="dead")
    alive = left_running(reconcile_message_task, 2, 1, started_ago=1, worker="alive")

    abandoned_tasks_recover(dead_workers=["dead"])

    assert row(dead).status == "READY"
    assert row(alive).status == "RUNNING"


@pytest.mark.django_db
def test_tasks_safe_to_rerun_are_requeued_until_they_have_been_running_at_three_deaths():
    once = left_running(reconcile_message_task, 1, 1, claims=1)
    twice = left_running(auto_reply_task, 2, claims=2)
    thrice = left_running(reconcile_message_task, 3, 1, claims=3)

    abandoned_tasks_recover()

    assert row(once).status == row(twice).status == "READY"
    assert row(thrice).status == "FAILED"


@pytest.mark.django_db
def test_the_periodic_check_is_requeued_unless_a_new_one_already_waits():
    first = left_running(reconcile_stuck_task, True)
    abandoned_tasks_recover()
    assert row(first).status == "READY"

    second = left_running(reconcile_stuck_task, True)
    abandoned_tasks_recover()
    assert row(second).status == "FAILED"  # `first` keeps the chain going: one chain, not two
    assert len(queued(reconcile_stuck_task.module_path)) == 1


@pytest.mark.django_db
def test_the_periodic_re_read_of_numbers_is_requeued_too():
    task = left_running(reconcile_stuck_task, True)
    DBTaskResult.objects.filter(pk=task.pk).update(
        task_path="phone_numbers.tasks.numbers_sync_periodic"
    )

    abandoned_tasks_recover()

    assert row(task).status == "READY"


@pytest.mark.django_db
def test_a_task_of_unknown_kind_is_marked_failed_rather_than_run_again():
    task = left_running(send_message_task, 1)
    DBTaskResult.objects.filter(pk=task.pk).update(task_path="elsewhere.tasks.charge_card")

    assert abandoned_tasks_recover() == [
        f"elsewhere.tasks.charge_card {task.pk} (worker gone): failed"
    ]

    assert row(task).status == "FAILED"
    assert row(task).exception_class_path.endswith(WorkerLost.__qualname__)


@pytest.mark.django_db
def test_the_periodic_check_of_stuck_messages_recovers_abandoned_tasks(settings):
    settings.TASK_LEASE_SECONDS = 60
    message = outbound(send_attempts=1)
    task = left_running(send_message_task, message.pk, started_ago=61)

    reconcile_stuck_task.call(False)

    assert row(task).status == "FAILED"
    message.refresh_from_db()
    assert message.status == Status.UNKNOWN
    assert len(queued(RECONCILE_TASK)) == 1


@pytest.mark.django_db
def test_a_dead_workers_unposted_send_is_queued_once_though_its_message_is_also_stuck(settings):
    # Found by tests/test_scale_out.py: the reaper queued a send for the dead worker's message,
    # then the stuck check of the same run queued another; two workers took them at once and the
    # customer was texted twice.
    settings.TASK_LEASE_SECONDS = 60
    settings.RECONCILE_STUCK_MINUTES = 1
    message = outbound(send_attempts=0)
    Message.objects.filter(pk=message.pk).update(updated_at=timezone.now() - timedelta(minutes=2))
    left_running(send_message_task, message.pk, started_ago=61)

    reconcile_stuck_task.call(False)

    assert [task.args_kwargs["args"] for task in queued(SEND_TASK)] == [[message.pk]]


@pytest.mark.django_db
def test_the_periodic_check_queues_no_second_send_beside_one_still_waiting_in_the_queue(settings):
    settings.RECONCILE_STUCK_MINUTES = 1
    waiting, lost = outbound(send_attempts=0), outbound(send_attempts=0)
    send_message_task.enqueue(waiting.pk)  # behind a backlog longer than the check's interval
    Message.objects.update(updated_at=timezone.now() - timedelta(minutes=2))

    reconcile_stuck_task.call(False)

    assert sorted(task.args_kwargs["args"] for task in queued(SEND_TASK)) == [
        [waiting.pk],
        [lost.pk],
    ]


# --- a real worker killed mid-send ---------------------------------------------------------------


def drain_until(done, *, within: float = WAIT) -> None:
    """Run django-tasks-db's worker over whatever is due (some tasks wait for their run_after)
    until `done()` holds."""
    deadline = time.monotonic() + within
    while not done():
        assert time.monotonic() < deadline, "not settled in time"
        task_worker(batch=True, interval=0, worker_id="pytest").run()
        time.sleep(0.1)


def start_worker(log: Path, worker_id: str) -> subprocess.Popen:
    """`manage.py db_worker` in its own process, on the test database, sending to the sandbox."""
    connect, read = django_settings.CARRIERX_TIMEOUT
    return start_db_worker(
        log, worker_id, CARRIERX_CONNECT_TIMEOUT=str(connect), CARRIERX_READ_TIMEOUT=str(read)
    )


def test_a_send_whose_worker_was_killed_mid_post_reaches_the_customer_exactly_once(
    sandbox, settings, tmp_path
):
    settings.CARRIERX_TIMEOUT = (1.0, 3.0)
    settings.TASK_LEASE_SECONDS = 0.3
    # The carrier takes its time: the worker is killed while its POST is on the way, and the
    # carrier creates the message after the worker is gone.
    faults_update({"latency_seconds": 1.5})
    message = message_send(from_number=OUR_DID, to=HANDSET, body="Killed mid-send")
    worker = start_worker(tmp_path / "worker.log", "doomed")
    try:
        deadline = time.monotonic() + WAIT
        while Message.objects.get(pk=message.pk).send_attempts == 0:
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()
            assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()
            time.sleep(0.02)
        time.sleep(0.5)
        worker.send_signal(signal.SIGKILL)
    finally:
        worker.kill()
        worker.wait(timeout=WAIT)
    [task] = DBTaskResult.objects.filter(task_path=SEND_TASK)
    assert (task.status, task.worker_ids) == ("RUNNING", ["doomed"])

    reconcile_stuck_task.call(False)  # the periodic check, once the lease has run out
    drain_until(lambda: Message.objects.get(pk=message.pk).message_sid is not None)

    assert row(task).status == "FAILED"
    [at_carrier] = SandboxMessage.objects.filter(message="Killed mid-send")
    message.refresh_from_db()
    assert message.message_sid == at_carrier.message_sid  # adopted, not sent again
    assert message.status not in (Status.SENDING, Status.UNKNOWN)
    assert (message.send_attempts, message.resent, message.needs_attention) == (1, False, False)
    assert not DBTaskResult.objects.filter(status="RUNNING").exists()


def test_a_send_whose_post_never_reached_the_carrier_is_sent_once_more(sandbox, settings):
    message = outbound(send_attempts=1)  # counted, then the worker died before the POST left
    task = left_running(send_message_task, message.pk)

    abandoned_tasks_recover()
    drain_until(lambda: Message.objects.get(pk=message.pk).message_sid is not None)

    assert row(task).status == "FAILED"
    [at_carrier] = SandboxMessage.objects.filter(message=message.body)
    message.refresh_from_db()
    assert message.message_sid == at_carrier.message_sid
    assert (message.send_attempts, message.resent) == (2, True)
