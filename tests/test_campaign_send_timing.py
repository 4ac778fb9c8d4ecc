"""A campaign's carrier call begins at its slot, not when its message was written: it is written
a moment ahead (campaigns/dispatch.py, RELEASE_LEAD) and its pool thread waits for the slot; a
call whose thread gets there too late is not made, and its message takes a new slot."""

from __future__ import annotations

import json
import time

import pytest
import responses

from campaigns import dispatch, pacing
from campaigns.models import Recipient
from messaging.models import Direction, Message, Status
from portal.carrierx import CarrierXClient
from sandbox.models import SandboxMessage
from tests.conftest import load_fixture, run_tasks
from tests.test_campaign_control import (
    campaign_of,
    most_in_one_second,
    pool,  # noqa: F401 (a fixture)
)

BASE = "https://api.carrierx.test/core/v2"


@pytest.fixture
def carrier():
    with responses.RequestsMock() as mock:
        yield mock


@pytest.fixture
def message(db):
    return Message.objects.create(
        direction=Direction.OUTBOUND,
        our_number="15162065575",
        their_number="12125550100",
        body="Hi",
        status=Status.SENDING,
        send_attempts=1,
    )


def client() -> CarrierXClient:
    return CarrierXClient(base_url=BASE, token="t", timeout=(2, 5))


def test_a_call_released_ahead_of_its_slot_begins_at_the_slot(carrier, message):
    began = []

    def answer(request):
        began.append(time.time())
        return 200, {}, json.dumps(load_fixture("send_response"))

    carrier.add_callback(responses.POST, f"{BASE}/sms/messages", callback=answer)
    slot = time.time() + 0.2
    sms, err = dispatch._post(client(), message, slot)
    assert err is None and sms["message_sid"]
    assert len(began) == 1
    assert slot <= began[0] < slot + 0.1


def test_a_call_whose_slot_is_long_past_is_not_made(carrier, message, settings):
    settings.CAMPAIGN_PACE_MARGIN = 0.1
    assert dispatch._post(client(), message, time.time() - 0.2) is dispatch.LATE
    assert len(carrier.calls) == 0  # nothing reached the carrier


def test_a_call_whose_thread_wakes_from_its_wait_past_the_margin_is_not_made(
    carrier, message, settings, monkeypatch
):
    settings.CAMPAIGN_PACE_MARGIN = 0.1
    real_sleep = time.sleep
    # A busy machine: the thread asked to wake at the slot and got the processor 0.2 s later.
    monkeypatch.setattr(dispatch.time, "sleep", lambda seconds: real_sleep(seconds + 0.2))
    assert dispatch._post(client(), message, time.time() + 0.05) is dispatch.LATE
    assert len(carrier.calls) == 0


def test_a_call_a_little_late_still_goes(carrier, message, settings):
    settings.CAMPAIGN_PACE_MARGIN = 0.1
    carrier.add(responses.POST, f"{BASE}/sms/messages", json=load_fixture("send_response"))
    sms, err = dispatch._post(client(), message, time.time() - 0.02)
    assert err is None and len(carrier.calls) == 1


@pytest.mark.usefixtures("sandbox_stamps_at_its_edge")
@pytest.mark.django_db(transaction=True)
def test_a_send_whose_thread_woke_late_goes_once_at_a_new_slot_without_crowding_the_rest(
    pool,  # noqa: F811
    sender,
    settings,
    monkeypatch,
):
    settings.CAMPAIGN_PACE_MARGIN = 0.25
    rate, count = 4, 8
    real_post, stalled = dispatch._post, []

    def stalled_once(client, message, at):
        # The first call's thread is held past its slot, as on a machine too busy to run it.
        if not stalled:
            stalled.append((message.their_number, at))
            time.sleep(max(0.0, at - time.time()) + 0.3)
        return real_post(client, message, at)

    monkeypatch.setattr(dispatch, "_post", stalled_once)
    campaign = campaign_of(pool, sender, count=count, rate=rate)
    run_tasks()

    texts = list(SandboxMessage.objects.values_list("to_number", "received_at"))
    assert sorted(to for to, _ in texts) == [f"1212555{i:04d}" for i in range(count)]
    assert Recipient.objects.filter(campaign=campaign, state=Recipient.State.MESSAGED).count() == (
        count
    )
    assert Message.objects.filter(message_sid__isnull=False).count() == count
    # The stalled one went after its stall, at a new slot of its own: no two texts closer than
    # about a slot apart, and the pace held at the carrier.
    (number, first_slot), arrived = stalled[0], dict(texts)
    assert arrived[number].timestamp() > first_slot + 0.3
    times = sorted(arrived.values())
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert min(gaps) > pacing.interval(rate) / 2
    assert most_in_one_second(times) <= rate
