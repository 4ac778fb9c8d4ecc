"""The sandbox moves messages through their statuses in background tasks and POSTs each change to
the callback URL the carrier would pick, to a real HTTP receiver."""

from __future__ import annotations

import json
import socket

import pytest
from django.test import Client
from django.urls import reverse

from sandbox.models import SandboxCallbackAttempt, SandboxDid, SandboxMessage, SandboxPartner
from sandbox.seed import seed
from sandbox.tasks import advance_message
from tests.conftest import load_fixture, run_tasks

pytest_plugins = ["tests.callback_sink"]
pytestmark = pytest.mark.django_db(transaction=True)

MAIN_LINE = "15162065575"
SUPPORT_1 = "15162065320"  # in the Support group
HANDSET = "15162065574"


@pytest.fixture
def partner(settings, callback_sink) -> SandboxPartner:
    settings.SANDBOX_STEP_SECONDS = 0
    settings.SANDBOX_FAILURE_RATE = 0
    return seed(sms_callback_url=callback_sink.url + "/partner")


def send(settings, body: dict) -> dict:
    response = Client().post(
        reverse("sandbox:sms_messages"),
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION="Bearer " + settings.CARRIERX_TOKEN,
    )
    assert response.status_code == 200, response.content
    return response.json()


def statuses(bodies: list) -> list[str]:
    return [body["status"] for body in bodies]


def test_a_sent_message_calls_back_sent_then_delivered_with_the_full_sms_object(
    settings, partner, callback_sink
):
    queued = send(settings, load_fixture("send_request_legacy"))
    assert callback_sink.received == []  # nothing happens inside the request

    run_tasks()

    sent, delivered = callback_sink.bodies("/partner")
    assert statuses([sent, delivered]) == ["sent", "delivered"]
    for body in (sent, delivered):
        assert set(body) == set(queued)
        assert body["message_sid"] == queued["message_sid"]
        assert (body["from_did"], body["to_did"]) == (MAIN_LINE, HANDSET)
        assert body["date_status_changed"] is not None
        assert (body["mcc"], body["mnc"], body["price"]) == (310, 999, "0.0075")
    assert delivered["date_created"] == queued["date_created"]
    stored = SandboxMessage.objects.get(message_sid=queued["message_sid"])
    assert stored.status == "delivered"


def test_every_callback_is_recorded_with_the_receivers_answer(settings, partner, callback_sink):
    queued = send(settings, load_fixture("send_request_legacy"))
    run_tasks()

    attempts = SandboxCallbackAttempt.objects.filter(message__message_sid=queued["message_sid"])
    assert [(a.url, a.response_status, a.error) for a in attempts] == [
        (callback_sink.url + "/partner", 200, ""),
        (callback_sink.url + "/partner", 200, ""),
    ]
    assert statuses([a.request_body for a in attempts]) == ["sent", "delivered"]


def test_a_long_message_is_priced_per_segment(settings, partner, callback_sink):
    send(settings, {"from": MAIN_LINE, "to": HANDSET, "message": "x" * 400})
    run_tasks()
    assert {body["price"] for body in callback_sink.bodies()} == {"0.0225"}


@pytest.mark.parametrize(
    ("levels", "expected"),
    [
        ({"did", "group", "partner"}, "/did"),
        ({"group", "partner"}, "/group"),
        ({"did", "partner"}, "/did"),
        ({"partner"}, "/partner"),
    ],
)
def test_the_did_then_its_group_then_the_partner_decide_where_callbacks_go(
    settings, partner, callback_sink, levels, expected
):
    did = SandboxDid.objects.get(phonenumber=SUPPORT_1)
    did.callback_url = callback_sink.url + "/did" if "did" in levels else None
    did.save()
    did.did_group.callback_url = callback_sink.url + "/group" if "group" in levels else None
    did.did_group.save()

    send(settings, {"from": SUPPORT_1, "to": HANDSET, "message": "Which URL?"})
    run_tasks()

    assert callback_sink.paths() == [expected, expected]


def test_no_callback_url_anywhere_means_no_callback(settings, partner, callback_sink):
    seed(sms_callback_url=None)
    queued = send(settings, {"from": MAIN_LINE, "to": HANDSET, "message": "Into the void"})
    run_tasks()

    assert callback_sink.received == []
    assert SandboxMessage.objects.get(message_sid=queued["message_sid"]).status == "delivered"
    assert not SandboxCallbackAttempt.objects.exists()


def test_a_url_changed_between_steps_takes_effect_for_the_next_callback(
    settings, partner, callback_sink
):
    queued = send(settings, {"from": MAIN_LINE, "to": HANDSET, "message": "Moving target"})
    advance_message.call(queued["message_sid"], "queued")  # the sent step, by hand
    SandboxDid.objects.filter(phonenumber=MAIN_LINE).update(callback_url=callback_sink.url + "/new")

    run_tasks()  # the step enqueued by the send finds the message already sent and does nothing

    assert callback_sink.received == [
        ("/partner", callback_sink.bodies("/partner")[0]),
        ("/new", callback_sink.bodies("/new")[0]),
    ]
    assert statuses(callback_sink.bodies()) == ["sent", "delivered"]


def test_a_failure_rate_of_one_ends_every_message_failed(settings, partner, callback_sink):
    settings.SANDBOX_FAILURE_RATE = 1
    queued = send(settings, load_fixture("send_request_legacy"))
    run_tasks()

    assert statuses(callback_sink.bodies()) == ["sent", "failed"]
    assert SandboxMessage.objects.get(message_sid=queued["message_sid"]).status == "failed"


def test_a_partner_on_current_naming_gets_from_and_to_in_callbacks(
    settings, partner, callback_sink
):
    partner.field_naming = SandboxPartner.FieldNaming.CURRENT
    partner.save()
    send(settings, load_fixture("send_request_legacy"))
    run_tasks()

    for body in callback_sink.bodies():
        assert (body["from"], body["to"]) == (MAIN_LINE, HANDSET)
        assert "from_did" not in body and "to_did" not in body


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_unreachable_receiver_is_recorded_and_does_not_stop_the_message(
    settings, partner, allow_callbacks_to
):
    port = unused_port()
    allow_callbacks_to(f"127.0.0.1:{port}")
    dead_url = f"http://127.0.0.1:{port}/gone"
    seed(sms_callback_url=dead_url)
    queued = send(settings, load_fixture("send_request_legacy"))

    run_tasks()  # raises if a task failed

    assert SandboxMessage.objects.get(message_sid=queued["message_sid"]).status == "delivered"
    attempts = SandboxCallbackAttempt.objects.all()
    assert [(a.url, a.response_status) for a in attempts] == [(dead_url, None), (dead_url, None)]
    assert all(a.error for a in attempts)


def test_a_simulated_inbound_sms_reaches_the_receiver_as_received(settings, partner, callback_sink):
    did = SandboxDid.objects.get(phonenumber="15162065318")
    did.callback_url = callback_sink.url + "/inbound-did"
    did.save()

    response = Client().post(
        reverse("sandbox:simulate_inbound"),
        data=json.dumps({"from": "+1 (516) 206-5319", "to": "15162065318", "message": "Hello?"}),
        content_type="application/json",
        HTTP_AUTHORIZATION="Bearer " + settings.CARRIERX_TOKEN,
    )
    assert response.status_code == 200
    run_tasks()

    [(path, body)] = callback_sink.received
    assert path == "/inbound-did"
    assert (body["direction"], body["status"]) == ("inbound", "received")
    assert (body["from_did"], body["to_did"], body["message"]) == (
        "15162065319",
        "15162065318",
        "Hello?",
    )
    assert body["message_sid"] == response.json()["message_sid"]
    assert body["date_status_changed"] is not None
