"""A campaign sent against the sandbox over HTTP: recipients read from a CSV, each texted once,
at its DID's pace, with its own variables."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connections
from django.test import Client
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from campaigns import services
from campaigns.dispatch import Dispatcher
from campaigns.models import Campaign, Recipient
from campaigns.pacing import number_zones_of, quiet_until
from campaigns.recipients import read_csv, read_pasted, recipients_prepare, sticky_did
from campaigns.tasks import campaign_dispatch_task
from messaging.models import Direction, Message, OptOut
from phone_numbers.models import Did
from phone_numbers.sync import numbers_sync
from sandbox.models import SandboxMessage
from tests.conftest import load_fixture, run_tasks

pytestmark = pytest.mark.django_db(transaction=True)


def csv_of(rows: list[str], header: str = "First Name,Phone,Company") -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


@pytest.fixture
def pool(sandbox, settings):
    settings.CAMPAIGN_TICK_SECONDS = 30
    # What reaches the carrier is what counts here: its status steps (and their callbacks) wait.
    settings.SANDBOX_STEP_SECONDS = 3600
    numbers_sync()
    dids = list(
        Did.objects.filter(released_at__isnull=True)
        .order_by("phonenumber")
        .values_list("phonenumber", flat=True)[:2]
    )
    assert len(dids) == 2
    return dids


def test_a_campaign_texts_each_recipient_once_with_their_own_variables(pool, sender):
    campaign = Campaign.objects.create(
        name="Spring",
        body="Hi {first_name} of {company}",
        dids=pool,
        created_by=sender,
        rate_per_did=Decimal(50),
    )
    people = read_csv(csv_of([f"Ann{i},+1 212 555 {i:04d},Acme{i}" for i in range(100, 130)]))
    counts = recipients_prepare(campaign, people)
    assert counts["send"] == 30
    services.campaign_start(campaign)
    run_tasks()
    campaign.refresh_from_db()
    assert campaign.state == Campaign.State.FINISHED
    at_carrier = list(SandboxMessage.objects.values_list("to_number", "message"))
    assert len(at_carrier) == 30
    assert len({to for to, _ in at_carrier}) == 30
    assert ("12125550117", "Hi Ann117 of Acme117") in at_carrier
    recipients = Recipient.objects.filter(campaign=campaign)
    assert all(r.state == Recipient.State.MESSAGED and r.message_id for r in recipients)
    assert (
        Message.objects.filter(direction=Direction.OUTBOUND, message_sid__isnull=False).count()
        == 30
    )


# --- the list: each reason counted, exactly the rest texted ------------------------------------


def test_a_list_of_500_counts_each_removal_reason_and_texts_exactly_the_455_left(pool, sender):
    campaign = Campaign.objects.create(
        name="Five hundred",
        body="Hi {first_name} of {company}",
        dids=pool,
        created_by=sender,
        rate_per_did=Decimal(500),
    )
    numbers = [f"1212555{1000 + i:04d}" for i in range(465)]
    rows = [f"Ann{i},+1 212 555 {1000 + i:04d},Acme{i}" for i in range(465)]
    rows += [f"Dup{i},({212}) 555-{1000 + i:04d},Again{i}" for i in range(15)]  # 15 repeats
    rows += [f"Bad{i},call me {i},Nowhere" for i in range(10)]
    rows += [f"Short{i},{i:03d},Nowhere" for i in range(10)]
    # Ten opted out of the very DID the pool would give them.
    opted = numbers[100:110]
    for number in opted:
        OptOut.objects.create(
            customer_number=number,
            our_number=sticky_did(number, pool, {}),
            keyword="STOP",
            changed_at=timezone.now(),
        )
    # Opted out of the *other* DID of the pool only: still texted, from theirs.
    other = numbers[200]
    OptOut.objects.create(
        customer_number=other,
        our_number=next(d for d in pool if d != sticky_did(other, pool, {})),
        keyword="STOP",
        changed_at=timezone.now(),
    )
    assert len(rows) == 500

    counts = recipients_prepare(campaign, read_csv(csv_of(rows)))

    assert counts == {
        "unparsable": 20,
        "duplicate": 15,
        "opted_out": 10,
        "our_did": 0,
        "over_cap": 0,
        "send": 455,
    }
    services.campaign_start(campaign)
    run_tasks()
    campaign.refresh_from_db()
    assert campaign.state == Campaign.State.FINISHED
    at_carrier = list(
        SandboxMessage.objects.filter(direction="outbound").values_list(
            "from_number", "to_number", "message"
        )
    )
    kept = [i for i in range(465) if numbers[i] not in opted]
    did_of = dict(Recipient.objects.filter(campaign=campaign).values_list("number", "our_number"))
    assert did_of[other] == sticky_did(other, pool, {})
    assert sorted(at_carrier) == sorted(
        (did_of[numbers[i]], numbers[i], f"Hi Ann{i} of Acme{i}") for i in kept
    )
    assert Recipient.objects.filter(campaign=campaign, state="messaged").count() == 455


# --- send later ---------------------------------------------------------------------------------


def dispatch_tasks():
    return DBTaskResult.objects.filter(task_path=campaign_dispatch_task.module_path)


def test_a_campaign_scheduled_two_minutes_ahead_sends_nothing_early_and_everything_on_time(
    pool, sender
):
    start_at = timezone.now() + timedelta(minutes=2)
    campaign = Campaign.objects.create(
        name="Later", body="Hi {first_name}", dids=pool, created_by=sender, start_at=start_at
    )
    recipients_prepare(
        campaign, read_csv(csv_of([f"Bo{i},+1 212 555 {i:04d},X" for i in range(5)]))
    )
    services.campaign_start(campaign)

    campaign.refresh_from_db()
    assert campaign.state == Campaign.State.SCHEDULED
    [task] = dispatch_tasks()
    assert task.run_after == start_at
    assert run_tasks() == 0  # not due: the worker leaves it
    assert not SandboxMessage.objects.exists()

    # A task that runs before the campaign's time (queued twice, or the time was moved later)
    # sends nothing and waits for the time.
    dispatch_tasks().update(run_after=timezone.now() - timedelta(seconds=1))
    run_tasks()
    assert not SandboxMessage.objects.exists()
    assert dispatch_tasks().get(status="SUCCESSFUL").return_value == "not yet"
    assert dispatch_tasks().get(status="READY").run_after == start_at

    # Its time comes: move it (and its task's) to just now instead of waiting two minutes.
    due = timezone.now() - timedelta(seconds=1)
    Campaign.objects.filter(pk=campaign.pk).update(start_at=due)
    dispatch_tasks().filter(status="READY").update(run_after=due)
    run_tasks()

    campaign.refresh_from_db()
    assert campaign.state == Campaign.State.FINISHED
    assert campaign.started_at >= due
    assert sorted(SandboxMessage.objects.values_list("to_number", "message")) == [
        (f"1212555{i:04d}", f"Hi Bo{i}") for i in range(5)
    ]


# --- quiet hours --------------------------------------------------------------------------------


def test_quiet_hours_hold_a_recipient_for_whom_it_is_night_and_text_the_others(pool, sender):
    new_york, tokyo = "12125550142", "81312345678"
    # Quiet hours around New York's clock now: night there, mid-afternoon or so in Tokyo.
    local = timezone.now().astimezone(number_zones_of(new_york)[0])
    start, end = (local - timedelta(hours=1)).time(), (local + timedelta(hours=1)).time()
    assert quiet_until(tokyo, start=start, end=end, now=timezone.now()) is None
    campaign = Campaign.objects.create(
        name="Quiet",
        body="Hi",
        dids=pool,
        created_by=sender,
        quiet_start=start,
        quiet_end=end,
        rate_per_did=Decimal(50),
    )
    recipients_prepare(campaign, read_pasted(f"+{new_york}\n+{tokyo}"))
    services.campaign_start(campaign)
    run_tasks()

    assert list(SandboxMessage.objects.values_list("to_number", flat=True)) == [tokyo]
    held = Recipient.objects.get(campaign=campaign, number=new_york)
    assert held.state == Recipient.State.PENDING and held.message_id is None
    # Held until the end of quiet hours in New York: an hour after the test began.
    assert abs(held.not_before - (local + timedelta(hours=1))) < timedelta(seconds=1)
    campaign.refresh_from_db()
    assert campaign.state == Campaign.State.RUNNING
    # The next dispatcher waits for that morning.
    assert dispatch_tasks().get(status="READY").run_after == held.not_before


# --- STOP mid-campaign --------------------------------------------------------------------------


def text_stop(webhook_url: str, customer: str, our_did: str) -> None:
    payload = load_fixture("inbound_legacy")
    payload.update(
        message_sid=f"stop-{customer}", message="STOP", from_did=customer, to_did=our_did
    )
    response = Client().post(webhook_url, json.dumps(payload), content_type="application/json")
    assert response.status_code == 200
    assert OptOut.objects.filter(customer_number=customer, our_number=our_did).exists()


def run_dispatcher_in_a_thread(campaign: Campaign) -> threading.Thread:
    def dispatch():
        try:
            services.campaign_dispatch(campaign.pk)
        finally:
            connections.close_all()

    thread = threading.Thread(target=dispatch)
    thread.start()
    return thread


def wait_for(condition, what: str, within: float = 60.0):
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_stop_texted_mid_campaign_stops_that_recipient(pool, sender, webhook_url):
    our_did = pool[0]
    campaign = Campaign.objects.create(
        name="Stop", body="Hi", dids=[our_did], created_by=sender, rate_per_did=Decimal(5)
    )
    recipients_prepare(campaign, read_pasted("\n".join(f"+1212555{i:04d}" for i in range(15))))
    services.campaign_start(campaign)
    last = "12125550014"  # its turn comes about 3 s after the first

    dispatcher = run_dispatcher_in_a_thread(campaign)
    wait_for(SandboxMessage.objects.exists, "the first text")
    text_stop(webhook_url, last, our_did)
    dispatcher.join(timeout=60)

    stopped = Recipient.objects.get(campaign=campaign, number=last)
    assert stopped.state == Recipient.State.OPTED_OUT and stopped.message_id is None
    texted = set(SandboxMessage.objects.values_list("to_number", flat=True))
    assert last not in texted
    assert texted == {f"1212555{i:04d}" for i in range(14)}


def test_a_stop_arriving_after_the_recipient_was_claimed_still_stops_the_text(
    pool, sender, webhook_url
):
    our_did = pool[0]
    campaign = Campaign.objects.create(
        name="Stop", body="Hi", dids=[our_did], created_by=sender, rate_per_did=Decimal(2)
    )
    recipients_prepare(campaign, read_pasted("+12125550001\n+12125550002"))
    services.campaign_start(campaign)
    dispatcher = Dispatcher(Campaign.objects.get(pk=campaign.pk))
    dispatcher._claim_ahead(time.monotonic())  # both claimed, the second half a second out
    assert Recipient.objects.filter(campaign=campaign, state="claimed").count() == 2

    text_stop(webhook_url, "12125550002", our_did)
    dispatcher.run(seconds=5)

    assert list(SandboxMessage.objects.values_list("to_number", flat=True)) == ["12125550001"]
    assert Recipient.objects.get(number="12125550002").state == Recipient.State.OPTED_OUT
    assert not Message.objects.filter(their_number="12125550002", direction="outbound").exists()
