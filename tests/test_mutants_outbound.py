"""The outbound lifecycle where mutation testing (docs/mutation-testing.md) found the suite silent:
the periodic check meeting a send that was POSTed but never answered (the worker died mid-call),
what a retry note or a flag leaves behind, and the fallback search among other texts; then, at the
HTTP seam, reconciliation (two copies, none, a callback landing mid-call, the carrier down), a
send the carrier refused or failed, and the periodic check's boundaries and next run."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import requests
import responses
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from messaging.models import CarrierHealth, Direction, Message, Status
from messaging.services.carrier_events import user_data_for
from messaging.services.carrier_health import carrier_health_record
from messaging.services.outbound import (
    RECONCILE_ROUNDS,
    find_at_carrier,
    message_reconcile,
    message_send,
    message_send_attempt,
    messages_reconcile_stuck,
)
from messaging.tasks import reconcile_message_task, reconcile_stuck_task
from phone_numbers.models import Did
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


# --- at the HTTP seam ----------------------------------------------------------------------------
# The carrier's answers a sandbox does not give on demand (two copies, a copy carrying another
# message's user_data, a callback landing mid-call), mocked with `responses`; everything past the
# HTTP call is the real code and the real database.

CARRIER = "https://carrierx.test/core/v2"
SMS_URL = f"{CARRIER}/sms/messages"
SEND_TASK = "messaging.tasks.send_message_task"
RECONCILE_TASK = "messaging.tasks.reconcile_message_task"


@pytest.fixture
def carrier(settings):
    """Every request must be answered by a registered response, and every one asked for."""
    settings.CARRIERX_API_URL = CARRIER
    with responses.RequestsMock() as mock:
        yield mock


def outbound(status: str = Status.UNKNOWN, **fields) -> Message:
    return Message.objects.create(
        direction=Direction.OUTBOUND,
        our_number=OUR_DID,
        their_number=HANDSET,
        body="Your code is 1234",
        status=status,
        **fields,
    )


def copy_at_carrier(of: Message, sid: str, /, **fields) -> dict:
    return {
        "message_sid": sid,
        "status": "sent",
        "from": OUR_DID,
        "to": HANDSET,
        "message": of.body,
        "user_data": user_data_for(of),
        **fields,
    }


def listing(*items: dict) -> dict:
    return {"count": len(items), "has_more": False, "items": list(items), "pagination": {}}


def queued(task_path: str) -> list[DBTaskResult]:
    return list(DBTaskResult.objects.filter(task_path=task_path, status="READY"))


def carrier_failing(times: int = 3) -> None:
    for _ in range(times):
        carrier_health_record(ok=False, error="CarrierX did not answer in time")


@pytest.mark.django_db
def test_reconciliation_finding_two_copies_adopts_the_first_and_flags_the_message(carrier):
    carrier_failing()
    message = outbound(error="CarrierX did not answer in time; checking with CarrierX")
    carrier.get(
        SMS_URL,
        json=listing(copy_at_carrier(message, "sid-first"), copy_at_carrier(message, "sid-second")),
    )

    assert message_reconcile(message_id=message.pk, round_=1) == "adopted sid-first"

    message.refresh_from_db()
    assert (message.message_sid, message.status) == ("sid-first", "sent")
    assert message.needs_attention
    assert message.error == "CarrierX holds 2 copies of this message."
    assert carrier.calls[0].request.params["filter"] == f'user_data eq "{user_data_for(message)}"'
    assert CarrierHealth.objects.get().consecutive_failures == 0  # it answered


@pytest.mark.django_db
def test_reconciliation_finding_one_copy_adopts_it_without_a_flag(carrier):
    message = outbound(error="CarrierX did not answer in time; checking with CarrierX")
    carrier.get(SMS_URL, json=listing(copy_at_carrier(message, "sid-only")))

    assert message_reconcile(message_id=message.pk, round_=1) == "adopted sid-only"

    message.refresh_from_db()
    assert (message.message_sid, message.status) == ("sid-only", "sent")
    assert not message.needs_attention
    assert message.error == "CarrierX did not answer in time; checking with CarrierX"


@pytest.mark.django_db
def test_reconciliation_finding_no_copy_sends_only_that_message_once_more_and_says_so(carrier):
    message = outbound(error="CarrierX did not answer in time; checking with CarrierX")
    other = outbound(error="Also waiting.")
    carrier.get(SMS_URL, json=listing())

    assert message_reconcile(message_id=message.pk, round_=2) == "resending once"

    message.refresh_from_db()
    assert (message.status, message.resent) == ("sending", True)
    assert message.error == "Not at CarrierX; sending once more."
    other.refresh_from_db()
    assert (other.status, other.resent, other.error) == ("unknown", False, "Also waiting.")
    [send] = queued(SEND_TASK)
    assert send.args_kwargs["args"] == [message.pk]


@pytest.mark.django_db
def test_no_resend_when_a_callback_settled_the_message_while_the_carrier_was_asked(carrier):
    message = outbound()

    def callback_lands_meanwhile(request):
        Message.objects.filter(pk=message.pk).update(status="delivered")
        return 200, {}, json.dumps(listing())

    carrier.add_callback(responses.GET, SMS_URL, callback=callback_lands_meanwhile)

    message_reconcile(message_id=message.pk, round_=1)

    message.refresh_from_db()
    assert (message.status, message.resent, message.error) == ("delivered", False, "")
    assert not queued(SEND_TASK)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "fields",
    [{"message_sid": "sid-known"}, {"status": Status.SENDING}],
    ids=["has a SID", "sending"],
)
def test_reconciling_a_message_that_is_not_unknown_asks_the_carrier_nothing(carrier, fields):
    message = outbound(**{"status": Status.UNKNOWN, **fields})

    assert message_reconcile(message_id=message.pk, round_=1) == "already settled"

    assert not carrier.calls
    assert not DBTaskResult.objects.exists()


@pytest.mark.django_db
def test_reconciliation_with_the_carrier_down_asks_again_in_the_next_round_after_its_retry_after(
    carrier,
):
    message = outbound()
    carrier.get(
        SMS_URL, status=503, json={"message": "Service Unavailable"}, headers={"Retry-After": "7"}
    )

    before = timezone.now()
    result = message_reconcile(message_id=message.pk, round_=2)
    after = timezone.now()

    assert len(carrier.calls) == 1  # a 5xx is not a refused filter: no fallback search
    assert result == "carrier unavailable (Service Unavailable (HTTP 503)); will ask again"
    health = CarrierHealth.objects.get()
    assert (health.consecutive_failures, health.last_error) == (
        1,
        "Service Unavailable (HTTP 503)",
    )
    [again] = queued(RECONCILE_TASK)
    assert again.args_kwargs["args"] == [message.pk, 3]
    assert before + timedelta(seconds=7) <= again.run_after <= after + timedelta(seconds=7)
    message.refresh_from_db()
    assert (message.status, message.needs_attention) == ("unknown", False)


@pytest.mark.django_db
def test_the_fallback_search_asks_for_our_sender_recipient_and_send_time_and_keeps_our_copies(
    carrier,
):
    message = outbound()
    sent_at = datetime(2026, 11, 29, 10, 0, 30, tzinfo=UTC)
    Message.objects.filter(pk=message.pk).update(created_at=sent_at)
    message.refresh_from_db()
    carrier.get(SMS_URL, status=400, json={"message": "unknown field user_data in filter"})
    carrier.get(
        SMS_URL,
        json=listing(
            copy_at_carrier(message, "sid-other-message", user_data="portal-message-999999"),
            copy_at_carrier(message, "sid-other-text", message="Your code is 9999"),
            copy_at_carrier(message, "sid-no-user-data", user_data=None),
            copy_at_carrier(message, "sid-empty-user-data", user_data=""),
            copy_at_carrier(message, "sid-ours"),
        ),
    )

    found = find_at_carrier(message)

    assert [sms["message_sid"] for sms in found] == [
        "sid-no-user-data",
        "sid-empty-user-data",
        "sid-ours",
    ]
    assert carrier.calls[1].request.params["filter"] == (
        f'from eq "{OUR_DID}" and to eq "{HANDSET}" and date_created ge "2026-11-29T09:58:30"'
    )


# --- a send the carrier answered with an error ---------------------------------------------------


def attempt(message: Message) -> str:
    return message_send_attempt(message_id=message.pk)


@pytest.mark.django_db
def test_a_refused_send_fails_only_that_message_and_counts_as_the_carrier_answering(carrier):
    carrier_failing()
    message = outbound(Status.SENDING)
    other = outbound(Status.SENDING)
    carrier.post(
        SMS_URL,
        status=400,
        json={"message": "invalid", "errors": [{"field": "to", "message": "not a number"}]},
    )

    assert attempt(message) == "refused: invalid: to: not a number (HTTP 400)"

    message.refresh_from_db()
    assert (message.status, message.error) == ("failed", "invalid: to: not a number (HTTP 400)")
    other.refresh_from_db()
    assert (other.status, other.error) == ("sending", "")
    assert CarrierHealth.objects.get().consecutive_failures == 0


@pytest.mark.django_db
def test_a_refusal_does_not_overwrite_a_final_status_a_callback_brought_meanwhile(carrier):
    message = outbound(Status.SENDING)

    def callback_lands_meanwhile(request):
        Message.objects.filter(pk=message.pk).update(status="delivered")
        return 400, {}, json.dumps({"message": "invalid"})

    carrier.add_callback(responses.POST, SMS_URL, callback=callback_lands_meanwhile)

    attempt(message)

    message.refresh_from_db()
    assert (message.status, message.error) == ("delivered", "")


@pytest.mark.django_db
def test_a_5xx_on_send_records_the_reason_and_asks_the_carrier_after_the_reconcile_delay(
    carrier, settings
):
    settings.SEND_RECONCILE_DELAY_SECONDS = 60
    message = outbound(Status.SENDING)
    carrier.post(SMS_URL, status=500, json={"message": "Internal Server Error"})

    before = timezone.now()
    assert attempt(message) == "unknown; reconciling"
    after = timezone.now()

    message.refresh_from_db()
    assert message.status == "unknown"
    assert message.error == "Internal Server Error (HTTP 500); checking with CarrierX"
    health = CarrierHealth.objects.get()
    assert (health.consecutive_failures, health.last_error) == (
        1,
        "Internal Server Error (HTTP 500)",
    )
    [reconcile] = queued(RECONCILE_TASK)
    assert reconcile.args_kwargs["args"] == [message.pk, 1]
    assert before + timedelta(seconds=60) <= reconcile.run_after <= after + timedelta(seconds=60)
    assert not queued(SEND_TASK)


@pytest.mark.django_db
def test_a_429_on_send_says_when_it_retries_and_the_last_attempt_gives_up(carrier, settings):
    settings.SEND_MAX_ATTEMPTS = 2
    message = outbound(Status.SENDING)
    carrier.post(
        SMS_URL, status=429, json={"message": "Too Many Requests"}, headers={"Retry-After": "7"}
    )

    assert attempt(message) == "retry in 7.0s"
    assert [t.args_kwargs["args"] for t in queued(SEND_TASK)] == [[message.pk]]
    assert attempt(message) == "gave up"

    message.refresh_from_db()
    assert (message.status, message.send_attempts) == ("failed", 2)
    assert message.error == "Too Many Requests (HTTP 429); gave up after 2 attempts"
    assert len(queued(SEND_TASK)) == 1  # no third attempt queued


# --- the periodic check --------------------------------------------------------------------------


def stale(message: Message, *, created: timedelta, updated: timedelta) -> None:
    now = timezone.now()
    Message.objects.filter(pk=message.pk).update(created_at=now - created, updated_at=now - updated)


@pytest.mark.django_db
def test_the_periodic_check_resends_a_lost_send_task_and_moves_a_posted_send_to_unknown_alone(
    carrier,
):
    never_posted = outbound(Status.SENDING)
    posted = outbound(Status.SENDING, send_attempts=1)
    busy = outbound(Status.SENDING, send_attempts=1)  # its send is running right now
    sent_without_sid = outbound(Status.SENT, send_attempts=1)
    for message in (never_posted, posted, sent_without_sid):
        stale(message, created=timedelta(hours=1), updated=timedelta(hours=1))

    before = timezone.now()
    assert messages_reconcile_stuck(reschedule=False) == "checked 3"

    assert not carrier.calls
    # Touched, so the next check leaves it to the reconciliation it started.
    assert Message.objects.get(pk=posted.pk).updated_at >= before
    states = {m.pk: (m.status, m.needs_attention) for m in Message.objects.all()}
    assert states == {
        never_posted.pk: ("sending", False),
        posted.pk: ("unknown", False),
        busy.pk: ("sending", False),
        sent_without_sid.pk: ("sent", False),
    }
    assert [t.args_kwargs["args"] for t in queued(SEND_TASK)] == [[never_posted.pk]]
    assert sorted(t.args_kwargs["args"] for t in queued(RECONCILE_TASK)) == [
        [posted.pk, 1],
        [sent_without_sid.pk, 1],
    ]


@pytest.mark.django_db
def test_the_periodic_check_flags_only_what_was_created_more_than_twice_its_interval_ago(
    carrier, settings
):
    settings.RECONCILE_STUCK_MINUTES = 15
    young = outbound(Status.SENT, message_sid="sid-young")
    old = outbound(Status.SENT, message_sid="sid-old")
    stale(young, created=timedelta(minutes=25), updated=timedelta(minutes=20))
    stale(old, created=timedelta(minutes=35), updated=timedelta(minutes=20))
    for message in (young, old):
        carrier.get(f"{SMS_URL}/{message.message_sid}", json=copy_at_carrier(message, "x"))

    assert messages_reconcile_stuck(reschedule=False) == "checked 2"

    flags = {m.message_sid: (m.needs_attention, m.error) for m in Message.objects.all()}
    assert flags == {
        "sid-young": (False, ""),
        "sid-old": (True, "Still sent at CarrierX after a long time."),
    }


@pytest.mark.django_db
def test_the_periodic_check_leaves_a_message_updated_within_its_interval_alone(carrier, settings):
    settings.RECONCILE_STUCK_MINUTES = 15
    recent = outbound(Status.SENT, message_sid="sid-recent")
    stale(recent, created=timedelta(hours=1), updated=timedelta(minutes=14))

    assert messages_reconcile_stuck(reschedule=False) == "checked 0"

    assert not carrier.calls


@pytest.mark.django_db
def test_the_periodic_check_applies_the_carriers_delivered_and_a_5xx_changes_nothing(carrier):
    delivered = outbound(Status.SENT, message_sid="sid-delivered")
    unanswered = outbound(Status.SENT, message_sid="sid-unanswered")
    for message in (delivered, unanswered):
        stale(message, created=timedelta(minutes=20), updated=timedelta(minutes=20))
    carrier.get(
        f"{SMS_URL}/sid-delivered",
        json=copy_at_carrier(
            delivered,
            "sid-delivered",
            status="delivered",
            date_status_changed="2026-11-29T10:00:00Z",
        ),
    )
    carrier.get(f"{SMS_URL}/sid-unanswered", status=500, json={"message": "Internal Server Error"})

    before = timezone.now()
    assert messages_reconcile_stuck(reschedule=False) == "checked 2"

    delivered.refresh_from_db()
    assert delivered.status == "delivered"
    assert delivered.status_changed_at == datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
    assert delivered.updated_at >= before
    unanswered.refresh_from_db()
    assert (unanswered.status, unanswered.needs_attention, unanswered.error) == ("sent", False, "")
    assert unanswered.updated_at < before


@pytest.mark.django_db
def test_the_periodic_check_runs_again_after_its_interval(settings):
    settings.RECONCILE_STUCK_MINUTES = 15

    before = timezone.now()
    messages_reconcile_stuck(reschedule=True)
    after = timezone.now()

    [following] = queued("messaging.tasks.reconcile_stuck_task")
    assert following.args_kwargs["args"] == [True]
    assert before + timedelta(minutes=15) <= following.run_after <= after + timedelta(minutes=15)


LONG = "x" * 2500  # a carrier's error text longer than the 2000 characters a message keeps


@pytest.mark.django_db
def test_a_retry_note_keeps_2000_characters_of_a_long_error_and_is_dated_after_the_answer(
    carrier,
):
    message = outbound(Status.SENDING)
    answered = []

    def rate_limited(request):
        answered.append(timezone.now())
        return 429, {"Retry-After": "7"}, json.dumps({"message": LONG})

    carrier.add_callback(responses.POST, SMS_URL, callback=rate_limited)

    attempt(message)

    message.refresh_from_db()
    assert message.error == f"Attempt 1 failed: {LONG}"[:2000]
    assert message.updated_at >= answered[0]


@pytest.mark.django_db
def test_a_refusal_keeps_2000_characters_of_a_long_error_and_is_dated_after_the_answer(carrier):
    message = outbound(Status.SENDING)
    answered = []

    def refused(request):
        answered.append(timezone.now())
        return 400, {}, json.dumps({"message": LONG})

    carrier.add_callback(responses.POST, SMS_URL, callback=refused)

    attempt(message)

    message.refresh_from_db()
    assert (message.status, message.error) == ("failed", LONG[:2000])
    assert message.updated_at >= answered[0]


@pytest.mark.django_db
def test_a_flag_keeps_2000_characters_of_a_long_error(carrier):
    message = outbound()
    carrier.get(SMS_URL, status=503, json={"message": LONG})

    assert message_reconcile(message_id=message.pk, round_=RECONCILE_ROUNDS) == "flagged"

    message.refresh_from_db()
    assert message.error == f"Could not reach CarrierX to check this message: {LONG}"[:2000]


@pytest.mark.django_db
def test_a_retry_after_of_half_a_second_is_scheduled_half_a_second_later(carrier):
    message = outbound(Status.SENDING)
    carrier.post(
        SMS_URL, status=429, json={"message": "Too Many Requests"}, headers={"Retry-After": "0.5"}
    )

    before = timezone.now()
    attempt(message)
    after = timezone.now()

    [retry] = queued(SEND_TASK)
    assert before + timedelta(seconds=0.5) <= retry.run_after <= after + timedelta(seconds=0.5)


@pytest.mark.django_db
def test_reconciliation_finding_no_copy_after_the_resend_flags_the_message(carrier):
    message = outbound(resent=True, error="Not at CarrierX; sending once more.")
    carrier.get(SMS_URL, json=listing())

    assert message_reconcile(message_id=message.pk, round_=1) == "flagged"

    message.refresh_from_db()
    assert (message.status, message.needs_attention) == ("unknown", True)
    assert message.error == "CarrierX has no copy even after one resend."
    assert not DBTaskResult.objects.exists()  # no third send


@pytest.mark.django_db
@pytest.mark.parametrize(
    "fields",
    [
        {"status": Status.UNKNOWN},  # being reconciled: a POST now could text the customer twice
        {"status": Status.SENDING, "message_sid": "sid-taken"},  # the carrier already took it
        {"status": Status.FAILED},
    ],
    ids=["unknown", "sending with a SID", "failed"],
)
def test_a_send_task_for_a_message_not_waiting_to_be_sent_posts_nothing(carrier, fields):
    message = outbound(**fields)

    assert attempt(message) == "nothing to send"

    assert not carrier.calls
    message.refresh_from_db()
    assert (message.status, message.send_attempts) == (fields["status"], 0)


@pytest.mark.django_db
def test_a_send_task_from_a_released_number_fails_the_message_without_asking_the_carrier(carrier):
    Did.objects.create(did_sid="did-1", phonenumber=OUR_DID, released_at=timezone.now())
    message = outbound(Status.SENDING)
    other = outbound(Status.SENDING)

    assert attempt(message) == "not enabled"

    assert not carrier.calls
    message.refresh_from_db()
    assert (message.status, message.send_attempts) == ("failed", 1)
    assert message.error == "Not sent: +1 516-206-5575 was released, so it can no longer send."
    assert Message.objects.get(pk=other.pk).status == "sending"
