"""The callback receiver under any arrival order: the carrier promises neither ordering nor a single
delivery, so every permutation of a message's callbacks, each repeated, must end in the same place.

Hypothesis runs all examples of a test inside one test-database transaction, so each example
works on message SIDs of its own (uuid4) and counts only the rows that carry them.
"""

from __future__ import annotations

import json
from typing import NamedTuple
from uuid import uuid4

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from messaging.models import STATUS_RANK, CarrierEvent, Message
from tests.conftest import load_fixture

pytestmark = pytest.mark.django_db

PROPERTY_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# The same outbound message as the carrier reports it today, and as legacy accounts do.
NAMINGS = ["status_delivered", "status_delivered_legacy"]


def repeated(draw, statuses: list[str]) -> list[str]:
    """Each status as many times (1–3) as an at-least-once carrier might send it."""
    return [status for status in statuses for _ in range(draw(st.integers(1, 3)))]


class Outbound(NamedTuple):
    naming: str  # which fixture: current or legacy field names
    terminal: str
    statuses: list[str]  # every status posted, in arrival order


class Mixed(NamedTuple):
    inbound_repeats: list[int]  # how often each inbound message is sent
    outbound: Outbound
    arrivals: list[tuple[str, int]]  # ("in", n): inbound message n; ("out", i): outbound's i-th


@st.composite
def outbound_lifecycles(draw) -> Outbound:
    naming = draw(st.sampled_from(NAMINGS))
    terminal = draw(st.sampled_from(["delivered", "failed"]))
    lifecycle = [*(["queued"] if draw(st.booleans()) else []), "sent", terminal]
    return Outbound(naming, terminal, draw(st.permutations(repeated(draw, lifecycle))))


@st.composite
def inbound_among_outbound(draw) -> Mixed:
    inbound_repeats = draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))
    outbound = draw(outbound_lifecycles())
    arrivals = [("in", n) for n, times in enumerate(inbound_repeats) for _ in range(times)]
    arrivals += [("out", i) for i in range(len(outbound.statuses))]
    return Mixed(inbound_repeats, outbound, draw(st.permutations(arrivals)))


def callback(fixture: str, sid: str, **changes) -> str:
    payload = load_fixture(fixture)
    payload.update(message_sid=sid, **changes)
    return json.dumps(payload)


def post_all(url: str, bodies: list[str]) -> None:
    # The carrier sends no CSRF token; the exemption must hold with checks enforced.
    client = Client(enforce_csrf_checks=True)
    for body in bodies:
        response = client.post(url, data=body, content_type="application/json")
        assert 200 <= response.status_code < 300, (response.status_code, response.content)


def stored_bodies(sid: str) -> list[str]:
    return list(
        CarrierEvent.objects.filter(message_sid=sid).order_by("id").values_list("body", flat=True)
    )


@PROPERTY_SETTINGS
@given(lifecycle=outbound_lifecycles())
def test_any_order_of_repeated_callbacks_keeps_one_row_at_the_highest_status(
    webhook_url, lifecycle
):
    sid = str(uuid4())
    bodies = [callback(lifecycle.naming, sid, status=status) for status in lifecycle.statuses]

    post_all(webhook_url, bodies)

    assert Message.objects.filter(message_sid=sid).count() == 1
    message = Message.objects.get(message_sid=sid)
    assert message.direction == "outbound"
    assert message.status == lifecycle.terminal
    assert STATUS_RANK[message.status] == max(STATUS_RANK[s] for s in lifecycle.statuses)
    assert stored_bodies(sid) == bodies
    assert not CarrierEvent.objects.filter(message_sid=sid, outcome__startswith="error")


@PROPERTY_SETTINGS
@given(scenario=inbound_among_outbound())
def test_a_repeated_inbound_callback_among_another_messages_callbacks_makes_one_received_row(
    webhook_url, scenario
):
    inbound_sids = [str(uuid4()) for _ in scenario.inbound_repeats]
    outbound_sid = str(uuid4())
    inbound_bodies = [callback("inbound_legacy", sid) for sid in inbound_sids]
    outbound = scenario.outbound
    outbound_bodies = [callback(outbound.naming, outbound_sid, status=s) for s in outbound.statuses]
    bodies = [
        inbound_bodies[n] if kind == "in" else outbound_bodies[n] for kind, n in scenario.arrivals
    ]

    post_all(webhook_url, bodies)

    repeats = scenario.inbound_repeats
    for sid, body, times in zip(inbound_sids, inbound_bodies, repeats, strict=True):
        assert Message.objects.filter(message_sid=sid).count() == 1
        message = Message.objects.get(message_sid=sid)
        assert (message.direction, message.status) == ("inbound", "received")
        assert stored_bodies(sid) == [body] * times
    assert Message.objects.get(message_sid=outbound_sid).status == outbound.terminal
    posted_out = [outbound_bodies[n] for kind, n in scenario.arrivals if kind == "out"]
    assert stored_bodies(outbound_sid) == posted_out
    sids = [*inbound_sids, outbound_sid]
    assert not CarrierEvent.objects.filter(message_sid__in=sids, outcome__startswith="error")
