"""A campaign send released ahead of its slot whose thread wakes too late (more than half the pace
margin after its slot) never calls the carrier then: it hands its message back, unposted, for a
new slot at the end of its DID's pace. Handed back, it is texted once (at its new slot, or, after
its dispatcher died holding it, as a fresh message), and a pause stops it for good.

Lateness is injected at the two seams the dispatcher's send threads go through: `_sleep_until`
(the wait for the slot: oversleeping is a busy machine's late wake) and `_post` (a call made with
a slot already past: late however the thread slept)."""

from __future__ import annotations

import random
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from campaigns import dispatch, services
from campaigns.models import Campaign, Recipient
from campaigns.tasks import campaign_dispatch_task
from messaging.models import Message, Status
from sandbox.faults import faults_update
from sandbox.models import SandboxMessage
from tests.conftest import run_tasks
from tests.test_campaign_control import (
    at_carrier,
    campaign_of,
    dispatcher_thread,
    most_in_one_second,
    pool,  # noqa: F401 — the fixture, shared
    states,
    wait_for,
)

pytestmark = pytest.mark.django_db(transaction=True)

LATE = "12125550003"  # the recipient whose sends are made late in the tests that pick one


def no_queued_dispatcher() -> None:
    """The test plays the dispatcher's part: the task that starting queued is taken out."""
    DBTaskResult.objects.filter(task_path=campaign_dispatch_task.module_path).delete()


def always_late_for(number: str, monkeypatch) -> list:
    """Every call to `number` is made with its slot already past the margin: its thread decides
    to hand it back each time. Returns the wall-clock times of those decisions."""
    real_post = dispatch._post
    wakes: list = []

    def post(client, message, at, too_late):
        if message.their_number == number:
            wakes.append(timezone.now())
            return real_post(client, message, time.monotonic() - too_late - 0.05, too_late)
        return real_post(client, message, at, too_late)

    monkeypatch.setattr(dispatch, "_post", post)
    return wakes


def texts_to(number: str) -> list[SandboxMessage]:
    return list(SandboxMessage.objects.filter(direction="outbound", to_number=number))


def test_a_send_that_wakes_too_late_does_not_call_and_goes_once_at_a_new_slot(
    pool,  # noqa: F811
    sender,
    settings,
    monkeypatch,
):
    settings.CAMPAIGN_PACE_MARGIN = 0.25
    campaign = campaign_of(pool, sender, count=30, rate=10)
    no_queued_dispatcher()
    real_sleep = dispatch._sleep_until
    late_once: dict[float, object] = {}  # slot → when the late thread woke
    lock = threading.Lock()

    def sleep_until(at: float) -> None:
        real_sleep(at)
        with lock:
            first = len(late_once) < 3 and at not in late_once
            if first:
                late_once[at] = timezone.now()
        if first:
            time.sleep(settings.CAMPAIGN_PACE_MARGIN)  # a busy machine: woke 0.25 s late

    monkeypatch.setattr(dispatch, "_sleep_until", sleep_until)
    handed = []
    real_hand_back = dispatch.Dispatcher._hand_back

    def hand_back(self, missed):
        handed.extend((m.pk, m.their_number, timezone.now()) for _, m in missed)
        return real_hand_back(self, missed)

    monkeypatch.setattr(dispatch.Dispatcher, "_hand_back", hand_back)

    sent = dispatch.Dispatcher(campaign).run(seconds=30)

    assert sent == 30
    # The three made late, and any this busy machine made late on its own.
    assert len(handed) >= 3
    texted = SandboxMessage.objects.filter(direction="outbound")
    assert sorted(texted.values_list("to_number", flat=True)) == [
        f"1212555{i:04d}" for i in range(30)
    ]
    for pk, number, at in handed:
        # The same message went, once, later, at its new slot: no call at the late wake.
        (text,) = texts_to(number)
        message = Message.objects.get(pk=pk)
        assert text.message_sid == message.message_sid
        assert message.send_attempts == 1
        assert Message.objects.filter(their_number=number).count() == 1
        slot = Recipient.objects.get(campaign=campaign, number=number).slot_at
        assert at < slot <= text.received_at + timedelta(milliseconds=1)
    received = list(texted.values_list("received_at", flat=True))
    assert most_in_one_second(received) <= 10


def test_a_message_held_by_a_dispatcher_that_died_is_texted_once_as_a_fresh_message(
    pool,  # noqa: F811
    sender,
    settings,
    monkeypatch,
):
    settings.CAMPAIGN_CLAIM_LEASE_SECONDS = 0.5
    campaign = campaign_of(pool, sender, count=10, rate=10)
    no_queued_dispatcher()
    always_late_for(LATE, monkeypatch)

    class Killed(BaseException):
        pass

    real_hand_back = dispatch.Dispatcher._hand_back

    def hand_back_then_die(self, missed):
        real_hand_back(self, missed)
        if any(m.their_number == LATE for _, m in missed):
            raise Killed  # as SIGKILL right after its hand-back was written …

    monkeypatch.setattr(dispatch.Dispatcher, "_hand_back", hand_back_then_die)
    monkeypatch.setattr(dispatch.Dispatcher, "_give_back", lambda self: None)  # … no clean-up
    with pytest.raises(Killed):
        dispatch.Dispatcher(campaign).run(seconds=30)

    # (On a busy machine others may be held too, late on their own: recovered alike.)
    held = dispatch.held_messages(campaign.pk).get(their_number=LATE)
    assert held.status == Status.SENDING
    assert held.send_attempts == 0  # nothing posted: to be cancelled, not reconciled
    assert texts_to(LATE) == []
    monkeypatch.undo()
    settings.CAMPAIGN_CLAIM_LEASE_SECONDS = 0.5
    time.sleep(0.6)  # its lease runs out

    services.campaign_dispatch(campaign.pk)
    run_tasks()

    (text,) = texts_to(LATE)
    held.refresh_from_db()
    assert held.status == Status.CANCELLED and held.error == dispatch.HELD_ERROR
    assert held.message_sid is None
    recipient = Recipient.objects.get(campaign=campaign, number=LATE)
    assert recipient.state == Recipient.State.MESSAGED
    assert recipient.message.pk != held.pk
    assert recipient.message.message_sid == text.message_sid
    texted = SandboxMessage.objects.filter(direction="outbound")
    assert sorted(texted.values_list("to_number", flat=True)) == [
        f"1212555{i:04d}" for i in range(10)
    ]
    assert Campaign.objects.get(pk=campaign.pk).state == Campaign.State.FINISHED


def test_pause_while_a_message_is_held_stops_within_a_second_and_it_never_goes(
    pool,  # noqa: F811
    sender,
    monkeypatch,
):
    campaign = campaign_of(pool, sender, count=60, rate=10)
    wakes = always_late_for(LATE, monkeypatch)
    dispatcher = dispatcher_thread(campaign)
    wait_for(lambda: len(wakes) >= 2 and at_carrier() >= 8, "a hand-back and the first texts")
    paused_at = timezone.now()
    assert services.campaign_pause(campaign)
    dispatcher.join(timeout=60)
    assert not dispatcher.is_alive()

    # Nothing reached the carrier a second after the pause, and the held message never did.
    arrived = SandboxMessage.objects.filter(direction="outbound").values_list(
        "received_at", flat=True
    )
    assert max(arrived) <= paused_at + timedelta(seconds=1)
    assert texts_to(LATE) == []
    (cancelled,) = Message.objects.filter(their_number=LATE)
    assert cancelled.status == Status.CANCELLED and cancelled.error == dispatch.HELD_ERROR
    recipient = Recipient.objects.get(campaign=campaign, number=LATE)
    assert recipient.state == Recipient.State.PENDING and recipient.message is None
    count = at_carrier()
    time.sleep(1)
    assert at_carrier() == count

    # Resumed, with its sends on time again: texted once, like everyone else.
    monkeypatch.undo()
    assert services.campaign_resume(campaign)
    run_tasks()
    assert len(texts_to(LATE)) == 1
    texted = SandboxMessage.objects.filter(direction="outbound")
    assert texted.count() == texted.values("to_number").distinct().count() == 60
    assert states(campaign) == {"messaged": 60}


def test_cancel_while_a_message_is_held_leaves_it_cancelled_and_unsent(
    pool,  # noqa: F811
    sender,
    monkeypatch,
):
    campaign = campaign_of(pool, sender, count=40, rate=10)
    wakes = always_late_for(LATE, monkeypatch)
    dispatcher = dispatcher_thread(campaign)
    wait_for(lambda: len(wakes) >= 2, "a hand-back")
    assert services.campaign_cancel(campaign)
    dispatcher.join(timeout=60)

    assert texts_to(LATE) == []
    (cancelled,) = Message.objects.filter(their_number=LATE)
    assert cancelled.status == Status.CANCELLED
    assert Recipient.objects.get(campaign=campaign, number=LATE).state == "cancelled"
    assert run_tasks() == 0


@pytest.mark.postgres_only
def test_two_dispatchers_whose_threads_wake_late_keep_each_dids_pace_at_the_carrier(
    pool,  # noqa: F811
    sender,
    settings,
    monkeypatch,
):
    if connection.vendor != "postgresql":
        pytest.skip("two dispatchers need PostgreSQL's row locks")
    settings.CAMPAIGN_DISPATCHERS = 2
    settings.CAMPAIGN_PACE_MARGIN = 0.25
    faults_update({"latency_seconds": 0})
    rate = 10
    campaign = campaign_of(pool, sender, count=160, rate=rate, dids=2)
    # One wake in four is 0.05-0.4 s late (seeded): sent then, such a call would land among
    # the next slots' calls, the other dispatcher's too.
    rng = random.Random(15)
    lock = threading.Lock()
    real_sleep = dispatch._sleep_until
    late = []

    def sleep_until(at: float) -> None:
        real_sleep(at)
        with lock:
            extra = rng.choice([0.0, 0.0, 0.0, rng.uniform(0.05, 0.4)])
        if extra:
            late.append(extra)
            time.sleep(extra)

    monkeypatch.setattr(dispatch, "_sleep_until", sleep_until)
    DBTaskResult.objects.filter(task_path=campaign_dispatch_task.module_path).delete()

    both = [dispatcher_thread(campaign), dispatcher_thread(campaign)]
    for thread in both:
        thread.join(timeout=120)
    monkeypatch.undo()
    run_tasks()  # whatever they left for a successor

    assert len(late) >= 20
    texted = SandboxMessage.objects.filter(direction="outbound")
    assert texted.count() == texted.values("to_number").distinct().count() == 160
    for did in pool:
        received = list(texted.filter(from_number=did).values_list("received_at", flat=True))
        assert most_in_one_second(received) <= rate, did
