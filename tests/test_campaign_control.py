"""A running campaign against the sandbox over HTTP: Pause stops new sends within a second and
Resume finishes the list; Cancel leaves the rest cancelled; each DID keeps its pace as the carrier
sees it (the sandbox's own receive times)."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connections
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from campaigns import services
from campaigns.models import Campaign, Recipient
from campaigns.recipients import read_pasted, recipients_prepare, sticky_did
from campaigns.tasks import campaign_dispatch_task
from messaging.models import Message
from phone_numbers.models import Did
from phone_numbers.sync import numbers_sync
from sandbox.faults import faults_update
from sandbox.models import SandboxMessage
from tests.conftest import run_tasks

pytestmark = pytest.mark.django_db(transaction=True)

LATENCY = 0.05  # seconds the sandbox takes per send: calls overlap, as with a real carrier


@pytest.fixture
def pool(sandbox, settings):
    settings.CAMPAIGN_TICK_SECONDS = 30
    settings.SANDBOX_STEP_SECONDS = 3600  # no status steps: only what reached the carrier counts
    numbers_sync()
    faults_update({"latency_seconds": LATENCY})
    return list(
        Did.objects.filter(released_at__isnull=True)
        .order_by("phonenumber")
        .values_list("phonenumber", flat=True)[:2]
    )


def campaign_of(pool, sender, count: int, rate: int, dids: int = 1) -> Campaign:
    campaign = Campaign.objects.create(
        name="Run", body="Hi", dids=pool[:dids], created_by=sender, rate_per_did=Decimal(rate)
    )
    numbers = "\n".join(f"+1212555{i:04d}" for i in range(count))
    assert recipients_prepare(campaign, read_pasted(numbers))["send"] == count
    services.campaign_start(campaign)
    return campaign


def dispatcher_thread(campaign: Campaign) -> threading.Thread:
    """The dispatcher task's body on a thread of its own, as a worker would run it; the task
    that starting queued is taken out (this thread plays its part)."""
    DBTaskResult.objects.filter(
        task_path=campaign_dispatch_task.module_path, status="READY"
    ).delete()

    def dispatch():
        try:
            services.campaign_dispatch(campaign.pk)
        finally:
            connections.close_all()

    thread = threading.Thread(target=dispatch, daemon=True)
    thread.start()
    return thread


def wait_for(condition, what: str, within: float = 60.0):
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def at_carrier() -> int:
    return SandboxMessage.objects.filter(direction="outbound").count()


def states(campaign: Campaign) -> dict[str, int]:
    found: dict[str, int] = {}
    for state in Recipient.objects.filter(campaign=campaign).values_list("state", flat=True):
        found[state] = found.get(state, 0) + 1
    return found


def stop_mid_run(campaign: Campaign, stop) -> tuple:
    dispatcher = dispatcher_thread(campaign)
    wait_for(lambda: at_carrier() >= 5, "the first texts")
    stopped_at = timezone.now()
    assert stop(campaign)
    dispatcher.join(timeout=60)
    assert not dispatcher.is_alive()
    return stopped_at, at_carrier()


def test_pause_stops_new_sends_within_a_second_and_resume_texts_the_rest_once(pool, sender):
    campaign = campaign_of(pool, sender, count=60, rate=10)

    paused_at, count = stop_mid_run(campaign, services.campaign_pause)

    # Nothing was released (written, then handed to the carrier) more than a second after the
    # pause; what was in flight then has reached the carrier, and nothing more comes.
    released = list(
        Message.objects.filter(direction="outbound").values_list("created_at", flat=True)
    )
    assert max(released) <= paused_at + timedelta(seconds=1)
    assert count == len(released) < 60
    time.sleep(1)
    assert at_carrier() == count
    left = states(campaign)
    assert left == {"messaged": count, "pending": 60 - count}  # none left claimed
    campaign.refresh_from_db()
    assert campaign.state == Campaign.State.PAUSED

    assert services.campaign_resume(campaign)
    run_tasks()

    campaign.refresh_from_db()
    assert campaign.state == Campaign.State.FINISHED
    texted = list(SandboxMessage.objects.values_list("to_number", flat=True))
    assert sorted(texted) == [f"1212555{i:04d}" for i in range(60)]  # each exactly once


def test_cancel_leaves_every_unsent_recipient_cancelled_and_sends_nothing_more(pool, sender):
    campaign = campaign_of(pool, sender, count=60, rate=10)

    cancelled_at, count = stop_mid_run(campaign, services.campaign_cancel)

    released = list(
        Message.objects.filter(direction="outbound").values_list("created_at", flat=True)
    )
    assert max(released) <= cancelled_at + timedelta(seconds=1)
    assert states(campaign) == {"messaged": count, "cancelled": 60 - count}
    assert run_tasks() == 0  # no dispatcher left queued
    time.sleep(1)
    assert at_carrier() == count
    campaign.refresh_from_db()
    assert campaign.state == Campaign.State.CANCELLED
    assert not services.campaign_resume(campaign)


# --- pace -----------------------------------------------------------------------------------------

# The pace margin of the tests that count sends as the carrier does. With margin m a DID's calls
# are spaced (1 + m) / rate apart and one up to m/2 late still goes, so the carrier's count holds
# while the way to it varies by less than m/2. From the release to the sandbox's stamp a send took
# 10-130 ms on this busy 2-core machine, and up to 0.3 s in CI beside the other suite's browsers
# (0.25 failed there: 11 in one second), so m is 1.0, leaving 0.5 s: these tests test the
# dispatcher, not the machine. A deployment sets the margin for its own path to the carrier.
CARRIER_COUNT_MARGIN = 1.0


def most_in_one_second(times: list) -> int:
    """The largest number of `times` inside any window [t, t + 1 s)."""
    times = sorted(times)
    most, first = 0, 0
    for last, at in enumerate(times):
        while at - times[first] >= timedelta(seconds=1):
            first += 1
        most = max(most, last - first + 1)
    return most


def test_most_in_one_second_counts_a_half_open_window():
    t0 = timezone.now()
    ticks = [t0 + timedelta(seconds=0.2 * i) for i in range(11)]
    assert most_in_one_second(ticks) == 5  # 0.0 … 0.8; 1.0 starts the next second
    assert most_in_one_second([*ticks, t0 + timedelta(seconds=0.99)]) == 6


@pytest.mark.usefixtures("sandbox_stamps_at_its_edge")
def test_each_did_of_the_pool_sends_at_no_more_than_its_rate_as_the_carrier_sees_it(
    pool, sender, settings
):
    rate, per_did = 5, 20
    # The sandbox stamps a text when it stores it; no injected wait between arrival and stamp.
    faults_update({"latency_seconds": 0})
    settings.CAMPAIGN_PACE_MARGIN = CARRIER_COUNT_MARGIN  # the count below is exact
    campaign = Campaign.objects.create(
        name="Paced", body="Hi", dids=pool, created_by=sender, rate_per_did=Decimal(rate)
    )
    numbers: dict[str, list[str]] = {did: [] for did in pool}
    n = 0
    while min(len(v) for v in numbers.values()) < per_did:
        number = f"1212555{n:04d}"
        did = sticky_did(number, pool, {})
        if len(numbers[did]) < per_did:
            numbers[did].append(number)
        n += 1
    people = "\n".join("+" + number for group in numbers.values() for number in group)
    recipients_prepare(campaign, read_pasted(people))
    services.campaign_start(campaign)
    run_tasks()

    spans = []
    for did in pool:
        # As the carrier's rate limiter counts: when each request reached it, before the
        # sandbox's own latency and database writes (`received_at`, not `date_created`).
        received = list(
            SandboxMessage.objects.filter(from_number=did).values_list("received_at", flat=True)
        )
        assert len(received) == per_did
        assert most_in_one_second(received) <= rate, did
        # At our side it holds whatever the load: no `rate` + 1 releases of a DID within one
        # second. Releases are spaced (1 + margin) s per `rate`, but a message's created_at is
        # stamped when its release's INSERT runs, which can wait on SQLite's one write lock
        # (a status callback being written) for tens of ms: 1.14 s was seen at load 7, so the
        # bound read here is the promise itself, not the spacing.
        released = sorted(
            Message.objects.filter(our_number=did, direction="outbound").values_list(
                "created_at", flat=True
            )
        )
        gaps = [b - a for a, b in zip(released, released[rate:], strict=False)]
        assert min(gaps) > timedelta(seconds=1)
        # …and all of them: 20 at 5/s take at least 3.8 s from the first to the last.
        assert max(received) - min(received) >= timedelta(seconds=(per_did - 1) / rate)
        spans.append((min(received), max(received)))
    # Both DIDs sent side by side, not one after the other.
    (first_a, last_a), (first_b, last_b) = spans
    assert first_a < last_b and first_b < last_a
