"""The outbound lifecycle where mutation testing (docs/mutation-testing.md) found the suite silent:
the periodic check meeting a send that was POSTed but never answered (the worker died mid-call),
what a retry note or a flag leaves behind, and the fallback search among other texts."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from messaging.models import CarrierHealth, Direction, Message, Status
from messaging.services.outbound import RECONCILE_ROUNDS, message_reconcile, message_send
from messaging.tasks import reconcile_message_task, reconcile_stuck_task
from sandbox.faults import faults_update
from sandbox.models import SandboxMessage
from tests import test_send_retries
from tests.conftest import run_tasks

OUR_DID = "15162065575"
HANDSET = "15162065574"

# The same fixture as the retry tests': every `POST /sms/messages` that reached the sandbox.
sandbox_posts = test_send_retries.sandbox_posts


def posted_but_never_answered() -> Message:
    """A send the carrier took, whose answer we never read: still `sending`, one attempt, no SID,
    its tasks gone with the worker, and last touched an hour ago."""
    message = message_send(from_number=OUR_DID, to=HANDSET, body="Your code is 1234")
    run_tasks()
    long_ago = timezone.now() - timedelta(hours=1)
    Message.objects.filter(pk=message.pk).update(
        status="sending", message_sid="", send_attempts=1, created_at=long_ago, updated_at=long_ago
    )
    DBTaskResult.objects.all().delete()
    return message


def test_the_periodic_check_adopts_the_sid_of_a_send_posted_but_never_answered(
    sandbox, sandbox_posts
):
    message = posted_but_never_answered()

    reconcile_stuck_task.enqueue(False)
    run_tasks()

    message.refresh_from_db()
    copy = SandboxMessage.objects.get()
    assert len(sandbox_posts) == 1  # asked the carrier, never sent a second copy
    assert message.message_sid == copy.message_sid
    assert message.status == copy.status
    assert not message.needs_attention and not message.resent
    reconciled = DBTaskResult.objects.get(task_path="messaging.tasks.reconcile_message_task")
    assert reconciled.return_value == f"adopted {copy.message_sid}"


def test_a_retry_note_touches_the_message_so_the_periodic_check_leaves_it_alone(sandbox):
    faults_update({"rate_limit": 1, "retry_after_seconds": 7})
    message = message_send(from_number=OUR_DID, to=HANDSET, body="Your code is 1234")
    long_ago = timezone.now() - timedelta(hours=1)
    Message.objects.filter(pk=message.pk).update(updated_at=long_ago)

    before = timezone.now()
    run_tasks()

    message.refresh_from_db()
    assert message.error == (
        "Attempt 1 failed: Too Many Requests: rate limit exceeded; retry later (sandbox fault "
        "injection) (HTTP 429). Retrying in 7 s."
    )
    assert message.updated_at >= before


def test_a_flagged_message_is_touched_and_named_in_the_log(sandbox, caplog):
    message = message_send(from_number=OUR_DID, to=HANDSET, body="Your code is 1234")
    run_tasks()
    SandboxMessage.objects.all().delete()
    long_ago = timezone.now() - timedelta(hours=1)
    Message.objects.filter(pk=message.pk).update(
        status="sent", created_at=long_ago, updated_at=long_ago
    )

    before = timezone.now()
    reconcile_stuck_task.enqueue(False)
    run_tasks()

    message.refresh_from_db()
    assert message.needs_attention
    assert message.updated_at >= before
    assert (
        f"message {message.pk} needs attention: CarrierX no longer knows this message."
        in caplog.messages
    )


def test_the_fallback_search_adopts_only_the_copy_with_our_text(sandbox, live_server, settings):
    settings.SANDBOX_FILTER_ON_USER_DATA = False  # an older account: no `user_data` filter
    sandbox.callbacks = {}
    sandbox.save(update_fields=["callbacks"])
    # Another text from our number to the same customer, sent outside the portal a moment ago.
    other = requests.post(
        f"{live_server.url}/sandbox/core/v2/sms/messages",
        json={"from": OUR_DID, "to": HANDSET, "message": "Sent from elsewhere"},
        headers={"Authorization": f"Bearer {settings.CARRIERX_TOKEN}"},
        timeout=10,
    )
    assert other.status_code == 200, other.text
    # The carrier takes our send, then the connection drops before its answer arrives.
    faults_update({"drop": 1, "drop_after_processing": 1})
    message = message_send(from_number=OUR_DID, to=HANDSET, body="Your code is 4321")
    run_tasks()

    message.refresh_from_db()
    ours = SandboxMessage.objects.get(message="Your code is 4321")
    assert message.message_sid == ours.message_sid
    assert not message.needs_attention, message.error


@pytest.mark.django_db(transaction=True)  # the task worker runs outside the test transaction
def test_a_reconcile_task_for_a_message_since_deleted_records_that_it_is_settled():
    reconcile_message_task.enqueue(424242, 1)
    run_tasks()

    result = DBTaskResult.objects.get(task_path="messaging.tasks.reconcile_message_task")
    assert (result.status, result.return_value) == ("SUCCESSFUL", "already settled")


@pytest.mark.django_db
def test_the_last_reconcile_round_with_the_carrier_down_flags_the_message_and_records_why():
    message = Message.objects.create(
        direction=Direction.OUTBOUND,
        our_number=OUR_DID,
        their_number=HANDSET,
        body="Your code is 1234",
        status=Status.UNKNOWN,
    )

    assert message_reconcile(message_id=message.pk, round_=RECONCILE_ROUNDS) == "flagged"

    message.refresh_from_db()
    health = CarrierHealth.objects.get()
    assert health.consecutive_failures == 1
    assert health.last_error  # the client's reason, shown on the carrier-unavailable banner
    assert message.needs_attention
    assert message.error == f"Could not reach CarrierX to check this message: {health.last_error}"
    assert not DBTaskResult.objects.exists()  # no further round asked for


def test_the_periodic_check_flags_a_send_still_short_of_final_and_leaves_the_rest_alone(sandbox):
    stuck = message_send(from_number=OUR_DID, to=HANDSET, body="Your code is 1234")
    run_tasks()
    SandboxMessage.objects.update(status="sent")  # the carrier never gets further either
    long_ago = timezone.now() - timedelta(hours=1)

    def unknown_to_the_carrier(**fields) -> Message:
        return Message.objects.create(
            direction=Direction.OUTBOUND,
            our_number=OUR_DID,
            their_number=HANDSET,
            body="x",
            message_sid=f"not-at-the-carrier-{Message.objects.count()}",
            **fields,
        )

    final = unknown_to_the_carrier(status=Status.DELIVERED)
    flagged = unknown_to_the_carrier(status=Status.SENT, needs_attention=True, error="Earlier.")
    fresh = unknown_to_the_carrier(status=Status.SENT)
    Message.objects.exclude(pk=fresh.pk).update(created_at=long_ago, updated_at=long_ago)
    Message.objects.filter(pk=stuck.pk).update(status=Status.SENT)

    reconcile_stuck_task.enqueue(False)
    run_tasks()

    stuck.refresh_from_db()
    assert stuck.needs_attention
    assert stuck.error == "Still sent at CarrierX after a long time."
    # Asking the carrier about any of these would flag it "no longer knows this message".
    left = {m.pk: (m.needs_attention, m.error) for m in Message.objects.exclude(pk=stuck.pk)}
    assert left == {final.pk: (False, ""), flagged.pk: (True, "Earlier."), fresh.pk: (False, "")}
