"""The send path under carrier faults (issue 6): the sandbox answers a share of sends with 429,
fails others before or after processing, cuts connections — and still no customer is texted
twice, and every message ends in a known state or flagged for staff.

Also the sandbox's fault control itself: what each fault looks like from the client's side."""

from __future__ import annotations

import logging
import time
from collections import Counter

import pytest
from django.core.servers.basehttp import WSGIRequestHandler
from django.db import connection
from django.db.models import Count
from django_tasks_db.models import DBTaskResult

from messaging.models import Direction, Message
from messaging.services.carrier_events import user_data_for
from messaging.services.outbound import message_send
from portal.carrierx import CarrierXError, get_client
from sandbox.faults import faults_update
from sandbox.models import SandboxDid, SandboxDidGroup, SandboxFaults, SandboxMessage
from sandbox.seed import SMS_AND_VOICE
from tests.conftest import run_tasks, sandbox_auth

SENDS = 1000
# Long enough that a loaded two-core machine answers a plain request well within it (a late
# answer would be counted as a lost one).
READ_TIMEOUT = 1.0
# The thousand sends meet about a hundred injected timeouts, each costing this much.
THOUSAND_READ_TIMEOUT = 0.5
OUR_DID = "15162065575"
HANDSET = "15162065574"
FINAL_OR_ACCEPTED = {"queued", "sent", "delivered", "failed"}


def drain() -> int:
    """Run the worker until no task is due (every delay is 0 in tests); how many tasks ran."""
    while run_tasks(max_rounds=1000):
        pass
    return DBTaskResult.objects.filter(status="SUCCESSFUL").count()


OUTCOMES = (
    "sent as",
    "retry in",
    "unknown;",
    "gave up",
    "refused",
    "nothing to send",
    "adopted",
    "resending once",
    "flagged",
    "already settled",
    "carrier unavailable",
)


def task_outcomes(name: str) -> Counter:
    """What the runs of a task said they did ("sent as", "adopted", …), counted."""
    results = DBTaskResult.objects.filter(task_path=f"messaging.tasks.{name}", status="SUCCESSFUL")
    return Counter(
        next((start for start in OUTCOMES if str(value).startswith(start)), str(value))
        for value in results.values_list("return_value", flat=True)
    )


@pytest.fixture
def quiet_sandbox(sandbox, settings, monkeypatch):
    """The sandbox with a short client read timeout and no callbacks (nobody listens: each would
    be two more HTTP round trips per message, and statuses from callbacks are the webhook tests'
    business)."""
    settings.CARRIERX_TIMEOUT = (2, READ_TIMEOUT)
    # The test server writes an answer's headers and body separately; with Nagle's algorithm on,
    # the body then waits for the client's delayed ACK, 40 ms a request on Linux.
    monkeypatch.setattr(WSGIRequestHandler, "disable_nagle_algorithm", True)
    sandbox.callbacks = {}
    sandbox.save(update_fields=["callbacks"])
    SandboxDid.objects.update(callback_url=None)
    SandboxDidGroup.objects.update(callback_url=None)
    return sandbox


def test_a_thousand_sends_under_faults_text_nobody_twice_and_all_end_known_or_flagged(
    quiet_sandbox, caplog, capsys, monkeypatch, settings
):
    settings.CARRIERX_TIMEOUT = (2, THOUSAND_READ_TIMEOUT)
    # Keep the worker's database connection between tasks. Closing the last connection to an
    # SQLite database checkpoints its WAL to disk, which made every task cost a disk flush; the
    # live server's threads still close theirs after every request, as the tests' settings ask.
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", None)
    faults_update(
        {
            "rate_limit": 0.05,
            "rate_limit_no_retry_after": 0.05,
            "error_before": 0.10,
            "timeout_after": 0.10,
            "timeout_seconds": THOUSAND_READ_TIMEOUT + 0.1,
            "drop": 0.10,
            "drop_after_processing": 0.5,
            "retry_after_seconds": 0,
            "seed": 20261125,
        }
    )
    caplog.set_level(logging.INFO, logger="sandbox.faults")
    senders = list(
        SandboxDid.objects.filter(active_capabilities=SMS_AND_VOICE).values_list(
            "phonenumber", flat=True
        )
    )
    started = time.monotonic()

    for i in range(SENDS):
        message_send(
            from_number=senders[i % len(senders)],
            to=f"1555010{i % 100:04d}",
            body=f"Fault test message {i}",
        )
    tasks = drain()
    elapsed = time.monotonic() - started

    messages = Message.objects.filter(direction=Direction.OUTBOUND)
    assert messages.count() == SENDS
    copies = SandboxMessage.objects.filter(direction="outbound")

    # No customer is texted twice: one carrier copy at most per portal message.
    per_message = copies.values("user_data").annotate(n=Count("id"))
    assert [row for row in per_message if row["n"] > 1] == []
    assert not copies.filter(user_data__isnull=True).exists()
    # Every carrier copy is one of ours, and we hold its SID: nothing at the carrier is orphaned.
    with_sid = messages.filter(message_sid__isnull=False)
    assert copies.count() == with_sid.count()
    by_sid = dict(copies.values_list("message_sid", "user_data"))
    for pk, sid in with_sid.values_list("pk", "message_sid"):
        assert by_sid[sid] == user_data_for(Message(pk=pk))

    # Every message ends accepted by the carrier or failed, or is flagged for staff.
    unsettled = messages.exclude(status__in=FINAL_OR_ACCEPTED).filter(needs_attention=False)
    assert list(unsettled.values_list("pk", "status", "error")) == []
    assert not messages.filter(status="sending", needs_attention=False).exists()
    # A message is flagged only when the carrier has no copy of it even after the one resend.
    for message in messages.filter(needs_attention=True):
        assert message.error == "CarrierX has no copy even after one resend."
        assert message.resent
        assert not copies.filter(user_data=user_data_for(message)).exists()

    injected = Counter(
        record.getMessage().split(" on ")[0].removeprefix("sandbox fault: ")
        for record in caplog.records
        if record.name == "sandbox.faults"
    )
    sends = task_outcomes("send_message_task")
    reconciles = task_outcomes("reconcile_message_task")
    statuses = Counter(messages.values_list("status", flat=True))
    flagged = messages.filter(needs_attention=True).count()
    resent = messages.filter(resent=True).count()
    posts = sum(messages.values_list("send_attempts", flat=True))
    with capsys.disabled():
        print(
            f"\n{SENDS} sends, {posts} POSTs, {tasks} tasks in {elapsed:.1f} s"
            f"\n  faults injected: {dict(sorted(injected.items()))}"
            f"\n  send task outcomes: {dict(sorted(sends.items()))}"
            f"\n  reconcile outcomes: {dict(sorted(reconciles.items()))}"
            f"\n  final statuses: {dict(sorted(statuses.items()))}; flagged {flagged}; "
            f"resent once {resent}; carrier copies {copies.count()}"
        )

    # The faults really happened, in about the shares asked for (of more POSTs than sends).
    for fault, share in (
        ("rate_limit", 0.05),
        ("rate_limit_no_retry_after", 0.05),
        ("error_before", 0.10),
        ("timeout_after", 0.10),
    ):
        assert 0.5 * share * SENDS <= injected[fault] <= 2 * share * SENDS, fault
    drops = injected["drop after processing"] + injected["drop before processing"]
    assert 0.05 * SENDS <= drops <= 0.2 * SENDS
    # Every POST was answered, retried after a 429, or left the message unknown; every unknown
    # was reconciled once: adopted when the carrier had it (its answer was lost after processing,
    # injected or a real timeout under load), else sent once more, or flagged after that.
    assert posts == sends["sent as"] + sends["retry in"] + sends["gave up"] + sends["unknown;"]
    lost_answers = injected["timeout_after"] + injected["drop after processing"]
    never_processed = injected["error_before"] + injected["drop before processing"]
    assert sends["unknown;"] >= lost_answers + never_processed
    # Unknowns beyond the injected ones are real timeouts of a loaded machine. One that hid a 429
    # left its message unknown instead of "retry in"; the carrier then had no copy, as after an
    # error before processing. Every 429 is accounted for either way.
    refused = injected["rate_limit"] + injected["rate_limit_no_retry_after"]
    refusals_lost = refused - (sends["retry in"] + sends["gave up"])
    assert 0 <= refusals_lost <= sends["unknown;"] - lost_answers - never_processed
    settled = reconciles["adopted"] + reconciles["resending once"] + reconciles["flagged"]
    assert settled == sends["unknown;"]
    assert reconciles["adopted"] >= lost_answers
    assert reconciles["resending once"] + reconciles["flagged"] == never_processed + refusals_lost
    assert reconciles["resending once"] == resent


@pytest.fixture
def api_call(quiet_sandbox):
    def call():
        return get_client().send_sms(from_=OUR_DID, to=HANDSET, message="Hi", user_data="probe")

    return call


def test_rate_limit_answers_429_with_retry_after_and_creates_nothing(api_call):
    faults_update({"rate_limit": 1, "retry_after_seconds": 7})
    with pytest.raises(CarrierXError) as refused:
        api_call()
    assert refused.value.status == 429
    assert refused.value.retry_after == 7
    assert not refused.value.permanent
    assert not SandboxMessage.objects.exists()


def test_rate_limit_without_retry_after_answers_a_bare_429(api_call):
    faults_update({"rate_limit_no_retry_after": 1})
    with pytest.raises(CarrierXError) as refused:
        api_call()
    assert (refused.value.status, refused.value.retry_after) == (429, None)
    assert not SandboxMessage.objects.exists()


def test_error_before_answers_500_and_creates_nothing(api_call):
    faults_update({"error_before": 1})
    with pytest.raises(CarrierXError) as failed:
        api_call()
    assert failed.value.status == 500
    assert "the request was not processed" in str(failed.value)
    assert not SandboxMessage.objects.exists()


def test_timeout_after_creates_the_message_and_answers_too_late(api_call):
    faults_update({"timeout_after": 1, "timeout_seconds": READ_TIMEOUT + 0.2})
    with pytest.raises(CarrierXError) as late:
        api_call()
    assert str(late.value) == "CarrierX did not answer in time"
    assert SandboxMessage.objects.get().user_data == "probe"


def test_a_drop_after_processing_creates_the_message_and_cuts_the_answer_short(api_call):
    faults_update({"drop": 1, "drop_after_processing": 1})
    with pytest.raises(CarrierXError) as dropped:
        api_call()
    assert "IncompleteRead" in str(dropped.value)
    assert dropped.value.reached_carrier
    assert SandboxMessage.objects.get().user_data == "probe"


def test_a_drop_before_processing_creates_nothing_and_answers_nothing(api_call):
    faults_update({"drop": 1, "drop_after_processing": 0})
    with pytest.raises(CarrierXError) as dropped:
        api_call()
    assert str(dropped.value) == "CarrierX is unreachable (the connection dropped)"
    assert dropped.value.reached_carrier  # it may have arrived, as far as the client can tell
    assert not SandboxMessage.objects.exists()


def test_latency_slows_every_send(api_call):
    faults_update({"latency_seconds": 0.2})  # under the read timeout: slow, but answered
    started = time.monotonic()
    api_call()
    assert time.monotonic() - started >= 0.2
    assert SandboxMessage.objects.count() == 1


def test_faults_touch_only_sends_unless_asked_for_all(api_call):
    faults_update({"error_before": 1})
    assert len(list(get_client().list_sms())) == 0  # a GET: not in scope

    faults_update({"apply_to": "all"})
    with pytest.raises(CarrierXError) as failed:
        list(get_client().list_sms())
    assert failed.value.status == 500


def test_a_seed_makes_the_draws_repeat(api_call):
    def outcomes() -> list[str]:
        faults_update({"error_before": 0.5, "seed": 7})  # every change reseeds
        seen = []
        for _ in range(12):
            try:
                api_call()
                seen.append("ok")
            except CarrierXError:
                seen.append("500")
        return seen

    first = outcomes()
    assert {"ok", "500"} == set(first)
    assert outcomes() == first


# --- the control endpoint -------------------------------------------------------------------------

CONTROL = "/sandbox/control"


@pytest.mark.django_db
def test_the_control_shows_the_settings_defaults_before_any_change(staff_client, settings):
    settings.SANDBOX_FAULTS = {"latency_seconds": 2.0}
    body = staff_client.get(CONTROL).json()
    assert body["latency_seconds"] == 2.0
    assert body["rate_limit"] == 0
    assert body["apply_to"] == "send"
    assert body["changed_at"] is None
    assert not SandboxFaults.objects.exists()


@pytest.mark.django_db
def test_the_control_patches_the_stored_faults_with_the_token_and_no_csrf_token(staff_client):
    from django.test import Client

    csrf_client = Client(enforce_csrf_checks=True, headers=sandbox_auth())
    response = csrf_client.patch(
        CONTROL, {"timeout_after": 0.25, "seed": 3}, content_type="application/json"
    )
    assert response.status_code == 200
    assert response.json()["timeout_after"] == 0.25
    stored = SandboxFaults.objects.get()
    assert (stored.timeout_after, stored.seed) == (0.25, 3)
    assert staff_client.get(CONTROL).json()["seed"] == 3


@pytest.mark.django_db
def test_the_control_refuses_bad_settings_and_keeps_the_old_ones(staff_client):
    client = staff_client
    client.patch(CONTROL, {"drop": 0.5}, content_type="application/json")
    response = client.patch(
        CONTROL,
        {"rate_limit": 0.6, "latency_seconds": -1, "apply_to": "some", "typo": 1},
        content_type="application/json",
    )
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "typo", "message": "is not a fault setting", "reference_sid": None}
    ]
    response = client.patch(
        CONTROL, {"rate_limit": 0.6, "latency_seconds": -1}, content_type="application/json"
    )
    assert response.status_code == 422
    fields = {error["field"] for error in response.json()["errors"]}
    assert fields == {"latency_seconds", None}  # None: the shares' sum, 1.1
    response = client.patch(CONTROL, {"rate_limit": 0.6}, content_type="application/json")
    assert response.status_code == 422
    assert "add up to 1.1 > 1" in response.json()["errors"][0]["message"]
    assert SandboxFaults.objects.get().rate_limit == 0


@pytest.mark.django_db
def test_deleting_the_control_goes_back_to_the_defaults(staff_client):
    client = staff_client
    client.patch(CONTROL, {"drop": 0.5}, content_type="application/json")
    assert client.delete(CONTROL).json()["drop"] == 0
    assert not SandboxFaults.objects.exists()


@pytest.mark.django_db
def test_the_handset_page_says_which_faults_are_on(staff_client):
    client = staff_client
    assert "Carrier faults: <strong>none</strong>" in client.get("/sandbox/phone/").content.decode()

    faults_update({"rate_limit": 0.1, "timeout_after": 0.05, "timeout_seconds": 25})
    page = client.get("/sandbox/phone/").content.decode()
    assert "429 with Retry-After: 1: 10%" in page
    assert "timeout after processing (25 s): 5%" in page
    assert "on POST /sms/messages only" in page
