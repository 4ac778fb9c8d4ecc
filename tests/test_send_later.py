"""Send later (issue 15): a message saved as scheduled, sent at its time by the task worker (also
by a fresh `manage.py db_worker` after a restart), moved or cancelled until then, and refused for
a time in the past or too far ahead."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from hypothesis import given
from hypothesis import strategies as st

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
from portal.models import UserPreferences
from sandbox.models import SandboxMessage
from tests.conftest import make_user, run_tasks
from tests.fuzz_values import form_data, fuzz_settings
from tests.test_forms_fuzz import answered, post
from tests.worker_processes import run_db_worker_batch

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


def db_worker_batch(log: Path) -> None:
    """`manage.py db_worker --batch` in a new process: it runs every task that is due, then
    exits, as the first run of a worker after a restart would."""
    run_db_worker_batch(log, SANDBOX_STEP_SECONDS="0", SANDBOX_FAILURE_RATE="0")


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


# --- the composers' Send later, and Edit / Cancel until it goes ----------------------------------


def local_input(moment: datetime, zone: str) -> str:
    """What a datetime-local field sends: the wall time in the user's zone, to the minute."""
    return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%dT%H:%M")


def schedule(client, when: str, *, message="See you tomorrow", to=HANDSET):
    return client.post(
        SEND_URL,
        {"from_did": OUR_DID, "to_did": to, "message": message, "send_at": when, "schedule": "1"},
    )


@pytest.fixture
def in_new_york(sender):
    UserPreferences.objects.create(user=sender, time_zone="America/New_York")


def test_the_composer_says_which_zone_the_time_is_in(sender_client, did, in_new_york):
    page = sender_client.get(SEND_URL).content.decode()
    assert "<summary>Send later</summary>" in page
    assert 'type="datetime-local" name="send_at"' in page
    assert "In your time zone, America/New York (E" in page


def test_send_later_reads_the_time_in_the_users_zone_and_schedules_it(
    sender_client, did, in_new_york
):
    at = (timezone.now() + timedelta(hours=5)).replace(second=0, microsecond=0)
    response = schedule(sender_client, local_input(at, "America/New_York"))
    assert response.status_code == 302
    message = Message.objects.get()
    assert (message.status, message.send_at, message.body) == (
        Status.SCHEDULED,
        at,
        "See you tomorrow",
    )
    assert [t.run_after for t in scheduled_tasks()] == [at]
    page = sender_client.get(SEND_URL).content.decode()
    assert "Scheduled: the message to +1 516-206-5574 goes" in page
    assert "Scheduled for <time" in page
    # In the viewer's own zone, the zone named.
    local = at.astimezone(ZoneInfo("America/New_York"))
    assert f"{local:%b} {local.day}, {local:%Y, %H:%M %Z}</time>" in page
    assert 'data-status="scheduled"' in page
    assert reverse("messaging:scheduled_edit", args=[message.pk]) in page
    assert reverse("messaging:scheduled_cancel", args=[message.pk]) in page


def test_send_ignores_the_send_later_field(sender_client, did):
    response = sender_client.post(
        SEND_URL,
        {"from_did": OUR_DID, "to_did": HANDSET, "message": "Now", "send_at": "garbage"},
    )
    assert response.status_code == 302
    assert Message.objects.get().status == Status.SENDING


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (-3600, "That time has passed"),
        (20, "That is less than a minute away"),
        (36 * 86400, "Messages can be scheduled up to 35 days ahead"),
    ],
)
def test_a_time_in_the_past_too_soon_or_too_far_ahead_is_a_form_error(
    sender_client, did, seconds, words
):
    typed = in_(seconds).strftime("%Y-%m-%d %H:%M:%S")  # to the second, as a person may type it
    response = schedule(sender_client, typed)
    assert response.status_code == 422
    page = response.content.decode()
    assert words in page
    assert '<details class="send-later" open>' in page
    assert not Message.objects.exists()


def test_schedule_without_a_time_is_refused(sender_client, did):
    response = schedule(sender_client, "")
    assert response.status_code == 422
    assert "Pick the date and time to send it." in response.content.decode()
    assert not Message.objects.exists()


def test_a_reply_can_be_scheduled_and_the_thread_shows_it(client, did):
    staff = client
    staff.force_login(make_user("ines", "Inbox staff"))
    Message.objects.create(
        direction="inbound", our_number=OUR_DID, their_number=HANDSET, body="hi", status="received"
    )
    from messaging.services.carrier_events import conversation_add_message

    conversation_add_message(Message.objects.get())
    at = (timezone.now() + timedelta(days=2)).replace(second=0, microsecond=0)
    response = staff.post(
        reverse("messaging:reply", args=[HANDSET]),
        {"from_did": OUR_DID, "message": "Tomorrow!", "send_at": local_input(at, "UTC"),
         "schedule": "1"},
        headers={"HX-Request": "true"},
    )  # fmt: skip
    assert "Reply scheduled for" in response.content.decode()
    reply = Message.objects.get(direction="outbound")
    assert (reply.status, reply.send_at) == (Status.SCHEDULED, at)
    thread = staff.get(reverse("messaging:conversation", args=[HANDSET])).content.decode()
    assert "Scheduled for <time" in thread
    assert reverse("messaging:scheduled_edit", args=[reply.pk]) in thread


@pytest.fixture
def waiting(did, sender) -> Message:
    return message_send(
        from_number=OUR_DID, to=HANDSET, body="Later", send_at=in_(3600), user=sender
    )


def test_edit_changes_the_time_and_text_and_queues_at_the_new_time(sender_client, waiting):
    edit = reverse("messaging:scheduled_edit", args=[waiting.pk])
    page = sender_client.get(edit).content.decode()
    assert "Later</textarea>" in page
    at = (timezone.now() + timedelta(days=3)).replace(second=0, microsecond=0)
    response = sender_client.post(
        edit, {"message": "Later, moved", "send_at": local_input(at, "UTC")}
    )
    assert response.status_code == 302
    waiting.refresh_from_db()
    assert (waiting.body, waiting.send_at, waiting.status) == ("Later, moved", at, "scheduled")
    assert max(t.run_after for t in scheduled_tasks()) == at


def test_edit_refuses_placeholders_and_past_times(sender_client, waiting):
    edit = reverse("messaging:scheduled_edit", args=[waiting.pk])
    response = sender_client.post(
        edit, {"message": "Hi {first_name}", "send_at": local_input(in_(-60), "UTC")}
    )
    assert response.status_code == 422
    page = response.content.decode()
    assert "Fill in {first_name} before sending." in page
    assert "That time has passed" in page
    assert Message.objects.get().body == "Later"


def test_cancel_asks_first_then_the_message_shows_cancelled_and_is_never_sent(
    sender_client, waiting
):
    cancel = reverse("messaging:scheduled_cancel", args=[waiting.pk])
    page = sender_client.get(cancel).content.decode()
    assert "Cancel this scheduled message?" in page
    assert Message.objects.get().status == Status.SCHEDULED
    assert sender_client.post(cancel).status_code == 302
    waiting.refresh_from_db()
    assert waiting.status == Status.CANCELLED
    detail = sender_client.get(reverse("messaging:message", args=[waiting.pk])).content.decode()
    assert 'status-cancelled">cancelled' in detail
    assert cancel not in detail
    due_now(waiting)
    assert scheduled_send_due(message_id=waiting.pk).startswith("not scheduled any more")


def test_a_message_that_went_meanwhile_cannot_be_edited_any_more(sender_client, waiting):
    Message.objects.filter(pk=waiting.pk).update(status=Status.SENDING)
    edit = reverse("messaging:scheduled_edit", args=[waiting.pk])
    response = sender_client.post(edit, {"message": "x", "send_at": local_input(in_(600), "UTC")})
    assert response["Location"] == reverse("messaging:message", args=[waiting.pk])
    page = sender_client.get(response["Location"]).content.decode()
    assert "This message is no longer scheduled: it is sending." in page
    assert Message.objects.get().body == "Later"


def test_only_people_who_may_send_and_see_it_can_change_a_scheduled_message(client, waiting):
    client.force_login(make_user("nora", "Number admins"))
    for name in ("scheduled_edit", "scheduled_cancel"):
        assert client.post(reverse(f"messaging:{name}", args=[waiting.pk])).status_code == 403
    assert Message.objects.get().status == Status.SCHEDULED


def test_the_messages_list_and_its_filter_know_the_new_statuses(client, waiting):
    client.force_login(make_user("ines", "Inbox staff"))
    page = client.get("/messaging/messages/", {"status": "scheduled"}).content.decode()
    assert '<option value="scheduled" selected>Scheduled</option>' in page
    assert '<option value="cancelled">Cancelled</option>' in page
    assert "Scheduled for <time" in page
    assert client.get("/messaging/messages/", {"status": "cancelled"}).context["rows"] == []
    export = client.get("/messaging/messages/export.csv", {"status": "scheduled"})
    assert b",scheduled," in b"".join(export.streaming_content)


def test_fuzzed_send_later_forms_never_answer_5xx(client, waiting):
    client.force_login(make_user("root", superuser=True))
    soon = local_input(in_(7200), "UTC")
    send = {"from_did": OUR_DID, "to_did": HANDSET, "message": "hi", "send_at": soon,
            "schedule": "1"}  # fmt: skip
    edit = {"message": "Later", "send_at": soon}
    paths = {
        SEND_URL: send,
        reverse("messaging:reply", args=[HANDSET]): {
            k: v for k, v in send.items() if k != "to_did"
        },
        reverse("messaging:scheduled_edit", args=[waiting.pk]): edit,
        reverse("messaging:scheduled_cancel", args=[waiting.pk]): {"next": "/messaging/"},
    }

    @fuzz_settings()
    @given(data=st.data(), path=st.sampled_from(sorted(paths)), htmx=st.booleans())
    def fuzz(data, path, htmx):
        answered(post(client, path, data.draw(form_data(paths[path])), htmx=htmx))

    fuzz()
    for path in (
        "/messaging/",
        "/messaging/messages/",
        reverse("messaging:message", args=[waiting.pk]),
    ):
        assert client.get(path).status_code == 200, path


def test_a_scheduled_message_whose_task_was_lost_is_queued_again_once_well_overdue(did, settings):
    from messaging.services.scheduled import scheduled_overdue_requeue

    settings.RECONCILE_STUCK_MINUTES = 1
    lost = message_send(from_number=OUR_DID, to=HANDSET, body="Lost", send_at=in_(3600))
    waiting = message_send(from_number=OUR_DID, to=HANDSET, body="Waits", send_at=in_(3600))
    Message.objects.update(send_at=timezone.now() - timedelta(minutes=5))
    DBTaskResult.objects.filter(args_kwargs__args__0=lost.pk).delete()

    assert scheduled_overdue_requeue() == 1
    tasks = [t.args_kwargs["args"] for t in scheduled_tasks()]
    assert sorted(tasks) == sorted([[lost.pk], [waiting.pk]])
    assert scheduled_overdue_requeue() == 0  # its task waits now: not queued twice


def test_a_callback_naming_a_scheduled_message_does_not_take_it_over(did, client, webhook_url):
    waiting = message_send(from_number=OUR_DID, to=HANDSET, body="Later", send_at=in_(3600))
    body = {
        "message_sid": "forged-1",
        "direction": "outbound",
        "from": OUR_DID,
        "to": HANDSET,
        "status": "delivered",
        "message": "Later",
        "user_data": f"portal-message-{waiting.pk}",
    }
    client.post(webhook_url, body, content_type="application/json")
    waiting.refresh_from_db()
    assert waiting.message_sid is None and waiting.status == Status.SCHEDULED
