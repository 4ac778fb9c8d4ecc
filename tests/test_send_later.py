"""Send later (issue 15): a message saved as scheduled, sent at its time by the task worker (also
by a fresh `manage.py db_worker` after a restart), moved or cancelled until then, and refused for
a time in the past or too far ahead."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from messaging.models import Message, OptOut, Status
from messaging.services.carrier_events import message_update_from_sms
from messaging.services.outbound import message_send, messages_reconcile_stuck
from messaging.services.scheduled import (
    NotScheduled,
    scheduled_cancel,
    scheduled_send_due,
    scheduled_update,
)
from phone_numbers.models import Did
from phone_numbers.sync import numbers_sync
from sandbox.models import SandboxMessage
from tests.conftest import run_tasks

OUR_DID = "15162065575"
HANDSET = "15162065574"
SEND_URL = "/messaging/"


def in_(seconds: float) -> datetime:
    return timezone.now() + timedelta(seconds=seconds)


def due_now(message: Message) -> None:
    """As if its time had come: the message and its task both say now."""
    past = timezone.now() - timedelta(seconds=1)
    Message.objects.filter(pk=message.pk).update(send_at=past)
    DBTaskResult.objects.filter(status="READY").update(run_after=past)


def scheduled_tasks() -> list[DBTaskResult]:
    return list(
        DBTaskResult.objects.filter(task_path="messaging.tasks.send_scheduled_task").order_by(
            "enqueued_at"
        )
    )


@pytest.fixture
def did(db) -> Did:
    return Did.objects.create(
        did_sid="did-1", phonenumber=OUR_DID, capabilities=3, active_capabilities=3
    )


# --- the service ---------------------------------------------------------------------------------


def test_a_message_sent_later_is_saved_scheduled_with_one_task_at_its_time(did):
    at = in_(3600)
    message = message_send(from_number=OUR_DID, to=HANDSET, body="Later", send_at=at)
    assert message.status == Status.SCHEDULED
    assert message.send_at == at
    [task] = scheduled_tasks()
    assert task.run_after == at
    assert task.args_kwargs["args"] == [message.pk]
    # Nothing queued to send it now.
    assert not DBTaskResult.objects.filter(task_path="messaging.tasks.send_message_task").exists()


def test_the_task_leaves_a_message_that_is_not_due_yet_alone(did):
    message = message_send(from_number=OUR_DID, to=HANDSET, body="Later", send_at=in_(3600))
    assert scheduled_send_due(message_id=message.pk).startswith("not due yet")
    message.refresh_from_db()
    assert message.status == Status.SCHEDULED
    assert message.send_attempts == 0


def test_the_task_of_a_cancelled_message_sends_nothing(did):
    message = message_send(from_number=OUR_DID, to=HANDSET, body="Later", send_at=in_(3600))
    scheduled_cancel(message_id=message.pk)
    due_now(message)
    assert scheduled_send_due(message_id=message.pk) == "not scheduled any more (cancelled)"
    message.refresh_from_db()
    assert message.status == Status.CANCELLED
    assert message.send_attempts == 0
    assert message.is_final


def test_moving_the_time_later_queues_a_task_at_the_new_time_and_the_old_one_does_nothing(did):
    message = message_send(from_number=OUR_DID, to=HANDSET, body="Later", send_at=in_(120))
    new_time = in_(7200)
    scheduled_update(message_id=message.pk, send_at=new_time, body="Later, edited")
    assert sorted(t.run_after for t in scheduled_tasks())[-1] == new_time
    # The old task's time comes: the message is not due, so it stays scheduled, text as edited.
    assert scheduled_send_due(message_id=message.pk).startswith("not due yet")
    message.refresh_from_db()
    assert (message.status, message.body, message.send_at) == (
        Status.SCHEDULED,
        "Later, edited",
        new_time,
    )


def test_a_message_that_went_cannot_be_edited_or_cancelled(did):
    message = message_send(from_number=OUR_DID, to=HANDSET, body="Later", send_at=in_(120))
    due_now(message)
    Message.objects.filter(pk=message.pk).update(status=Status.SENDING)
    with pytest.raises(NotScheduled, match="no longer scheduled: it is sending"):
        scheduled_cancel(message_id=message.pk)
    with pytest.raises(NotScheduled):
        scheduled_update(message_id=message.pk, send_at=in_(600), body="x")
    assert Message.objects.get(pk=message.pk).body == "Later"


def test_no_carrier_status_moves_a_scheduled_or_cancelled_message(did):
    message = message_send(from_number=OUR_DID, to=HANDSET, body="Later", send_at=in_(120))
    for status in ("queued", "sent", "delivered", "failed", "received"):
        changed, _ = message_update_from_sms(message, {"status": status})
        assert "status" not in changed
    assert message.status == Status.SCHEDULED
    scheduled_cancel(message_id=message.pk)
    message.refresh_from_db()
    changed, _ = message_update_from_sms(message, {"status": "delivered"})
    assert "status" not in changed


def test_the_stuck_message_check_ignores_scheduled_and_cancelled_messages(did, settings):
    settings.RECONCILE_STUCK_MINUTES = 1
    waiting = message_send(from_number=OUR_DID, to=HANDSET, body="Later", send_at=in_(3600))
    called_off = message_send(from_number=OUR_DID, to=HANDSET, body="Off", send_at=in_(3600))
    scheduled_cancel(message_id=called_off.pk)
    long_ago = timezone.now() - timedelta(hours=3)
    Message.objects.update(updated_at=long_ago, created_at=long_ago)
    DBTaskResult.objects.all().delete()

    assert messages_reconcile_stuck(reschedule=False) == "checked 0"
    assert not DBTaskResult.objects.exists()
    assert Message.objects.get(pk=waiting.pk).status == Status.SCHEDULED
    assert not Message.objects.filter(needs_attention=True).exists()


def test_the_lease_reaper_may_run_an_abandoned_scheduled_task_again():
    from messaging.services.task_leases import REQUEUE

    assert "messaging.tasks.send_scheduled_task" in REQUEUE


# --- sent on time, against the sandbox -----------------------------------------------------------


@pytest.fixture
def synced(sandbox):
    numbers_sync()


def test_a_scheduled_message_is_sent_once_its_time_comes_and_not_before(synced):
    message = message_send(from_number=OUR_DID, to=HANDSET, body="On time", send_at=in_(3600))
    run_tasks()
    assert not SandboxMessage.objects.exists()
    assert Message.objects.get(pk=message.pk).status == Status.SCHEDULED

    due_now(message)
    run_tasks()
    message.refresh_from_db()
    carrier_copy = SandboxMessage.objects.get()
    assert carrier_copy.message == "On time"
    assert carrier_copy.message_sid == message.message_sid
    assert message.status == Status.DELIVERED
    assert message.send_attempts == 1


def test_a_customer_who_opted_out_while_it_waited_is_not_texted(synced):
    message = message_send(from_number=OUR_DID, to=HANDSET, body="Promo", send_at=in_(3600))
    OptOut.objects.create(
        customer_number=HANDSET, our_number=OUR_DID, keyword="STOP", changed_at=timezone.now()
    )
    due_now(message)
    run_tasks()
    message.refresh_from_db()
    assert message.status == Status.FAILED
    assert message.error.startswith("Not sent:")
    assert not SandboxMessage.objects.exists()


def test_a_time_moved_earlier_sends_at_the_new_time_and_the_old_task_adds_nothing(synced):
    message = message_send(from_number=OUR_DID, to=HANDSET, body="Sooner", send_at=in_(7200))
    scheduled_update(message_id=message.pk, send_at=in_(60), body="Sooner")
    new, old = sorted(scheduled_tasks(), key=lambda t: t.run_after)
    # The new task's time comes (the old one's not yet).
    message_due = timezone.now() - timedelta(seconds=1)
    Message.objects.filter(pk=message.pk).update(send_at=message_due)
    DBTaskResult.objects.filter(pk=new.pk).update(run_after=message_due)
    run_tasks()
    assert SandboxMessage.objects.count() == 1
    # Later the old task runs too: the message went already; nothing more is sent.
    DBTaskResult.objects.filter(pk=old.pk).update(run_after=message_due)
    run_tasks()
    assert SandboxMessage.objects.count() == 1
    old.refresh_from_db()
    assert old.return_value.startswith("not scheduled any more")


# --- a restart: the task row waits in the database; a fresh worker process sends it ------------


def worker_database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    password = f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


def db_worker_batch(log: Path) -> None:
    """`manage.py db_worker --batch` in a new process: it runs every task that is due, then
    exits, as the first run of a worker after a restart would."""
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
    with log.open("a") as out:
        subprocess.run(
            [sys.executable, str(django_settings.BASE_DIR / "manage.py"), *command],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=True,
            timeout=120,
        )


def test_after_a_restart_a_fresh_worker_sends_a_message_whose_time_has_passed(synced, tmp_path):
    log = tmp_path / "worker.log"
    send_at = in_(2)
    message = message_send(from_number=OUR_DID, to=HANDSET, body="After restart", send_at=send_at)
    # Only the database holds it: the message row and its task row, due at send_at.
    assert scheduled_tasks()[0].run_after == send_at

    while timezone.now() <= send_at:
        time.sleep(0.2)
    db_worker_batch(log)

    message.refresh_from_db()
    assert message.status not in (Status.SCHEDULED, Status.SENDING), log.read_text()
    assert message.message_sid, log.read_text()
    assert SandboxMessage.objects.filter(message_sid=message.message_sid).count() == 1
    [task] = scheduled_tasks()
    assert task.status == "SUCCESSFUL", log.read_text()
    assert task.started_at >= send_at
