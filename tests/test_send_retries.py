"""Retries, reconciliation and the carrier-unavailable banner on the send path, each against the
sandbox over HTTP with one fault switched on (sandbox/faults.py), counting what reached it."""

from __future__ import annotations

import statistics
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.signals import request_started
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from messaging.models import Message
from messaging.services.carrier_events import user_data_for
from messaging.services.outbound import message_send, retry_delay
from messaging.tasks import reconcile_stuck_task
from sandbox.faults import faults_reset, faults_update
from sandbox.models import SandboxMessage
from tests.conftest import run_tasks

OUR_DID = "15162065575"
HANDSET = "15162065574"
# Long enough that a loaded two-core machine answers a plain request well within it.
READ_TIMEOUT = 1.0
SEND_TASK = "messaging.tasks.send_message_task"


@pytest.fixture
def sandbox_posts(sandbox):
    """Every `POST /sms/messages` that reached the sandbox, faulted or not."""
    posts: list[str] = []

    def record(sender, environ, **kwargs) -> None:
        if environ["REQUEST_METHOD"] == "POST" and environ["PATH_INFO"].endswith("/sms/messages"):
            posts.append(environ["PATH_INFO"])

    request_started.connect(record, weak=False)
    yield posts
    request_started.disconnect(record)


@pytest.fixture
def no_callbacks(sandbox):
    """The carrier keeps its statuses to itself: what we learn, we learn by asking."""
    sandbox.callbacks = {}
    sandbox.save(update_fields=["callbacks"])


def send(body: str = "Your code is 1234") -> Message:
    return message_send(from_number=OUR_DID, to=HANDSET, body=body)


def pending_sends() -> list[DBTaskResult]:
    return list(DBTaskResult.objects.filter(task_path=SEND_TASK, status="READY"))


# --- backoff -------------------------------------------------------------------------------------


def test_backoff_doubles_per_attempt_with_full_jitter_up_to_the_maximum(settings):
    settings.SEND_BACKOFF_SECONDS = 2.0
    settings.SEND_BACKOFF_MAX_SECONDS = 120.0
    for attempt, ceiling in [(1, 2), (2, 4), (3, 8), (4, 16), (5, 32), (6, 64), (7, 120), (9, 120)]:
        delays = [retry_delay(attempt) for _ in range(300)]
        assert all(ceiling / 2 <= delay <= ceiling for delay in delays), attempt
        # Jittered: spread over the upper half of the window, not one value for every sender.
        assert len({round(delay, 6) for delay in delays}) > 250
        assert statistics.mean(delays) == pytest.approx(0.75 * ceiling, rel=0.1)


def test_the_carriers_retry_after_replaces_the_backoff_up_to_the_maximum(settings):
    settings.SEND_BACKOFF_SECONDS = 2.0
    settings.SEND_BACKOFF_MAX_SECONDS = 120.0
    assert retry_delay(1, 7.0) == 7.0
    assert retry_delay(4, 0.0) == 0.0
    assert retry_delay(1, 3600.0) == 120.0


def test_a_429_with_retry_after_7_schedules_the_next_attempt_7_seconds_later(
    sandbox, sandbox_posts, settings
):
    settings.SEND_BACKOFF_SECONDS = 2.0  # the default; Retry-After must win over it
    faults_update({"rate_limit": 1, "retry_after_seconds": 7})
    message = send()

    before = timezone.now()
    run_tasks()
    after = timezone.now()

    [retry] = pending_sends()  # not due yet, so the worker left it
    assert before + timedelta(seconds=7) <= retry.run_after <= after + timedelta(seconds=7)
    message.refresh_from_db()
    assert (message.status, message.send_attempts) == ("sending", 1)
    assert "Attempt 1 failed: Too Many Requests" in message.error
    assert "Retrying in 7 s." in message.error
    assert len(sandbox_posts) == 1


def test_a_429_without_retry_after_backs_off_with_jitter(sandbox, settings):
    settings.SEND_BACKOFF_SECONDS = 2.0
    faults_update({"rate_limit_no_retry_after": 1})
    send()

    before = timezone.now()
    run_tasks()
    after = timezone.now()

    [retry] = pending_sends()
    assert before + timedelta(seconds=1) <= retry.run_after <= after + timedelta(seconds=2)


def test_repeated_429s_stop_after_send_max_attempts_posts_and_fail_the_message(
    sandbox, sandbox_posts, settings
):
    faults_update({"rate_limit": 1, "retry_after_seconds": 0})
    message = send()
    run_tasks()

    message.refresh_from_db()
    assert len(sandbox_posts) == settings.SEND_MAX_ATTEMPTS == 5
    assert (message.status, message.send_attempts) == ("failed", 5)
    assert "Too Many Requests" in message.error
    assert message.error.endswith("gave up after 5 attempts")
    assert not SandboxMessage.objects.exists()


# --- reconciliation ------------------------------------------------------------------------------


def test_a_5xx_before_processing_is_unknown_until_reconciliation_finds_no_copy_and_resends_once(
    sandbox, sandbox_posts, settings
):
    settings.SEND_RECONCILE_DELAY_SECONDS = 60
    faults_update({"error_before": 1})
    message = send()
    run_tasks()

    # It may have arrived, as far as we can tell: never re-POSTed blindly; asked about later.
    message.refresh_from_db()
    assert (message.status, message.send_attempts) == ("unknown", 1)
    assert "Internal Server Error" in message.error
    assert "checking with CarrierX" in message.error
    assert len(sandbox_posts) == 1

    faults_reset()
    DBTaskResult.objects.filter(status="READY").update(run_after=timezone.now())
    run_tasks()

    message.refresh_from_db()
    copy = SandboxMessage.objects.get()
    assert len(sandbox_posts) == 2
    assert (message.send_attempts, message.resent, message.needs_attention) == (2, True, False)
    assert message.message_sid == copy.message_sid
    assert copy.user_data == user_data_for(message)
    assert message.status == "delivered"  # the callbacks reached the portal's webhook


def test_a_second_failure_before_processing_flags_the_message_instead_of_a_third_post(
    sandbox, sandbox_posts
):
    faults_update({"error_before": 1})
    message = send()
    run_tasks()

    message.refresh_from_db()
    assert len(sandbox_posts) == 2
    assert (message.status, message.resent, message.needs_attention) == ("unknown", True, True)
    assert message.error == "CarrierX has no copy even after one resend."
    assert not SandboxMessage.objects.exists()


@pytest.mark.parametrize(
    "fault",
    [
        {"timeout_after": 1, "timeout_seconds": READ_TIMEOUT + 0.2},
        {"drop": 1, "drop_after_processing": 1},
    ],
    ids=["timeout after processing", "connection dropped after processing"],
)
def test_a_send_whose_answer_was_lost_adopts_the_carriers_sid_without_a_second_post(
    sandbox, sandbox_posts, no_callbacks, settings, fault
):
    settings.CARRIERX_TIMEOUT = (2, READ_TIMEOUT)
    faults_update(fault)
    message = send()
    run_tasks()

    message.refresh_from_db()
    copy = SandboxMessage.objects.get()
    assert len(sandbox_posts) == 1
    assert (message.send_attempts, message.resent, message.needs_attention) == (1, False, False)
    assert message.message_sid == copy.message_sid
    assert copy.user_data == user_data_for(message)
    assert message.status in {"queued", "sent", "delivered"}
    reconciled = DBTaskResult.objects.get(task_path="messaging.tasks.reconcile_message_task")
    assert reconciled.return_value == f"adopted {copy.message_sid}"


def test_reconciliation_rate_limited_by_the_carrier_asks_again_after_its_retry_after(
    sandbox, no_callbacks, settings
):
    settings.SEND_BACKOFF_SECONDS = 2.0
    settings.SEND_RECONCILE_DELAY_SECONDS = 60
    settings.CARRIERX_TIMEOUT = (2, READ_TIMEOUT)
    faults_update({"timeout_after": 1, "timeout_seconds": READ_TIMEOUT + 0.2})
    message = send()
    run_tasks()  # the send: unknown, reconciliation due in a minute

    faults_update(
        {"rate_limit": 1, "retry_after_seconds": 7, "timeout_after": 0, "apply_to": "all"}
    )
    DBTaskResult.objects.filter(status="READY").update(run_after=timezone.now())
    before = timezone.now()
    run_tasks()
    after = timezone.now()

    [again] = DBTaskResult.objects.filter(
        task_path="messaging.tasks.reconcile_message_task", status="READY"
    )
    assert again.args_kwargs["args"] == [message.pk, 2]
    assert before + timedelta(seconds=7) <= again.run_after <= after + timedelta(seconds=7)

    faults_reset()
    DBTaskResult.objects.filter(status="READY").update(run_after=timezone.now())
    run_tasks()
    message.refresh_from_db()
    assert message.message_sid == SandboxMessage.objects.get().message_sid


# --- the periodic check --------------------------------------------------------------------------


def make_old(message: Message, **changes) -> None:
    long_ago = timezone.now() - timedelta(hours=1)
    Message.objects.filter(pk=message.pk).update(
        created_at=long_ago, updated_at=long_ago, **changes
    )


def test_the_periodic_check_brings_a_message_stuck_at_sent_to_the_carriers_delivered(
    sandbox, no_callbacks
):
    message = send()
    run_tasks()
    assert SandboxMessage.objects.get().status == "delivered"
    # Its delivery callback never came.
    make_old(message, status="sent")

    reconcile_stuck_task.enqueue(False)
    run_tasks()

    message.refresh_from_db()
    assert message.status == "delivered"
    assert not message.needs_attention


def test_the_periodic_check_flags_a_message_the_carrier_no_longer_knows(sandbox):
    message = send()
    run_tasks()
    SandboxMessage.objects.all().delete()
    make_old(message, status="sent")

    reconcile_stuck_task.enqueue(False)
    run_tasks()

    message.refresh_from_db()
    assert message.status == "sent"
    assert message.needs_attention
    assert message.error == "CarrierX no longer knows this message."


def test_the_periodic_check_sends_a_message_whose_send_task_was_lost(sandbox, sandbox_posts):
    message = send()
    DBTaskResult.objects.all().delete()  # the worker's queue was lost
    make_old(message)

    reconcile_stuck_task.enqueue(False)
    run_tasks()

    message.refresh_from_db()
    assert len(sandbox_posts) == 1
    assert message.message_sid == SandboxMessage.objects.get().message_sid


def test_the_periodic_check_schedules_its_next_run(sandbox, settings):
    settings.RECONCILE_STUCK_MINUTES = 15
    reconcile_stuck_task.enqueue(True)
    before = timezone.now()
    run_tasks()

    [following] = DBTaskResult.objects.filter(
        task_path="messaging.tasks.reconcile_stuck_task", status="READY"
    )
    assert following.run_after >= before + timedelta(minutes=15)
    assert following.args_kwargs["args"] == [True]


def test_the_reconcile_messages_command_runs_the_check_once(sandbox, no_callbacks):
    message = send()
    run_tasks()
    make_old(message, status="sent")

    out = StringIO()
    call_command("reconcile_messages", stdout=out)

    assert out.getvalue() == "checked 1\n"
    message.refresh_from_db()
    assert message.status == "delivered"
    assert not DBTaskResult.objects.filter(status="READY").exists()  # once: nothing queued


@pytest.mark.django_db
def test_the_reconcile_messages_command_queues_the_periodic_check_only_once():
    for _ in range(3):
        call_command("reconcile_messages", schedule=True, stdout=StringIO())

    [queued] = DBTaskResult.objects.filter(status="READY")
    assert queued.task_path == "messaging.tasks.reconcile_stuck_task"
    assert queued.args_kwargs["args"] == [True]  # it re-queues itself after each run


# --- the banner ----------------------------------------------------------------------------------

BANNER = "CarrierX unavailable."


def test_the_messaging_page_says_carrier_unavailable_after_repeated_failures_until_a_success(
    sandbox, sender_client, settings
):
    settings.CARRIER_UNAVAILABLE_AFTER = 3
    settings.SEND_MAX_ATTEMPTS = 2
    faults_update({"rate_limit": 1, "retry_after_seconds": 0})

    send("first")
    run_tasks()  # two 429s: not yet
    assert BANNER not in sender_client.get("/messaging/").content.decode()

    send("second")
    run_tasks()  # four in a row
    page = sender_client.get("/messaging/").content.decode()
    assert BANNER in page
    assert "The last 4 calls failed" in page
    assert "Too Many Requests" in page

    faults_reset()
    send("third")
    run_tasks()
    assert BANNER not in sender_client.get("/messaging/").content.decode()
    assert Message.objects.get(body="third").message_sid
