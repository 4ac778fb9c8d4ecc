"""The CarrierX callback receiver: every body kept, one row per message, status only forward."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from messaging.models import CarrierEvent, Message
from messaging.services.carrier_events import user_data_for
from tests.conftest import load_fixture

pytestmark = pytest.mark.django_db


@pytest.fixture
def csrf_client() -> Client:
    # The carrier sends no CSRF token; the exemption must hold with checks enforced.
    return Client(enforce_csrf_checks=True)


def post(client, url, payload, **extra):
    body = payload if isinstance(payload, str | bytes) else json.dumps(payload)
    return client.post(url, data=body, content_type="application/json", **extra)


def with_status(name: str, status: str, **changes) -> dict:
    payload = load_fixture(name)
    payload.update(status=status, **changes)
    return payload


@pytest.mark.parametrize("fixture", ["status_delivered", "status_delivered_legacy"])
def test_a_delivered_callback_in_either_naming_makes_one_delivered_outbound_row(
    csrf_client, webhook_url, fixture
):
    response = post(csrf_client, webhook_url, load_fixture(fixture))
    assert response.status_code == 200
    message = Message.objects.get()
    assert message.message_sid == "097b49df-c54e-4eaf-97d0-89cf7d5a655b"
    assert message.direction == "outbound"
    assert message.status == "delivered"
    assert message.our_number == "15162065575"
    assert message.their_number == "15162065574"
    assert str(message.price) == "0.01000"


def test_an_inbound_legacy_callback_makes_a_received_message_from_the_customer(
    csrf_client, webhook_url
):
    assert post(csrf_client, webhook_url, load_fixture("inbound_legacy")).status_code == 200
    message = Message.objects.get()
    assert message.direction == "inbound"
    assert message.status == "received"
    assert message.their_number == "15162065319"
    assert message.our_number == "15162065318"
    assert message.body == "This is a test message delivered by CarrierX"


def test_every_accepted_body_is_kept_raw_with_its_outcome(csrf_client, webhook_url):
    raw = json.dumps(load_fixture("status_delivered"), indent=2)
    post(csrf_client, webhook_url, raw)
    event = CarrierEvent.objects.get()
    assert event.body == raw
    assert event.status == "delivered"
    assert event.message == Message.objects.get()
    assert event.outcome.startswith("new outbound message")


def test_a_duplicate_callback_keeps_one_row_and_logs_both_events(csrf_client, webhook_url):
    payload = load_fixture("status_delivered")
    assert post(csrf_client, webhook_url, payload).status_code == 200
    assert post(csrf_client, webhook_url, payload).status_code == 200
    assert Message.objects.count() == 1
    assert CarrierEvent.objects.count() == 2
    assert CarrierEvent.objects.order_by("id").last().outcome == "duplicate (delivered)"


def test_a_late_sent_after_delivered_never_moves_the_status_back(csrf_client, webhook_url):
    post(csrf_client, webhook_url, with_status("status_delivered", "delivered"))
    response = post(csrf_client, webhook_url, with_status("status_delivered", "sent"))
    assert response.status_code == 200
    assert Message.objects.get().status == "delivered"
    assert "stale" in CarrierEvent.objects.order_by("id").last().outcome


def test_failed_and_delivered_are_both_terminal(csrf_client, webhook_url):
    post(csrf_client, webhook_url, with_status("status_delivered", "failed"))
    post(csrf_client, webhook_url, with_status("status_delivered", "delivered"))
    assert Message.objects.get().status == "failed"


def test_unknown_fields_and_unknown_statuses_are_kept_and_change_nothing(csrf_client, webhook_url):
    post(csrf_client, webhook_url, with_status("status_delivered", "sent"))
    odd = with_status("status_delivered", "carrier_hold", surprise={"nested": [1, 2]})
    response = post(csrf_client, webhook_url, odd)
    assert response.status_code == 200
    assert Message.objects.get().status == "sent"
    event = CarrierEvent.objects.order_by("id").last()
    assert json.loads(event.body)["surprise"] == {"nested": [1, 2]}
    assert event.status == "carrier_hold"
    assert "unknown status" in event.outcome


def test_a_status_callback_that_beats_our_send_answer_is_merged_into_our_row(
    csrf_client, webhook_url
):
    ours = Message.objects.create(
        direction="outbound", our_number="15162065575", their_number="15162065574", body="hi"
    )
    early = with_status("status_delivered", "sent", user_data=user_data_for(ours))
    post(csrf_client, webhook_url, early)
    ours.refresh_from_db()
    assert Message.objects.count() == 1
    assert ours.message_sid == early["message_sid"]
    assert ours.status == "sent"


def test_a_wrong_secret_answers_404_and_writes_nothing(csrf_client):
    response = post(
        csrf_client, "/webhooks/carrierx/not-the-secret/", load_fixture("status_delivered")
    )
    assert response.status_code == 404
    assert not CarrierEvent.objects.exists()
    assert not Message.objects.exists()


def test_a_missing_secret_is_not_a_webhook(csrf_client):
    assert (
        post(csrf_client, "/webhooks/carrierx/", load_fixture("status_delivered")).status_code
        == 404
    )
    assert not CarrierEvent.objects.exists()


def test_bad_json_answers_400_with_a_reason(csrf_client, webhook_url):
    response = post(csrf_client, webhook_url, '{"message_sid": ')
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["error"]
    # Issue 10: a body that can never succeed is still kept, marked rejected.
    event = CarrierEvent.objects.get()
    assert (event.rejected, event.raw_bytes()) == (True, b'{"message_sid": ')
    assert not Message.objects.exists()


def test_json_that_is_not_an_object_answers_400(csrf_client, webhook_url):
    assert post(csrf_client, webhook_url, "[1, 2]").status_code == 400
    event = CarrierEvent.objects.get()
    assert (event.rejected, event.raw_bytes()) == (True, b"[1, 2]")
    assert not Message.objects.exists()


def test_an_oversize_body_answers_413(csrf_client, webhook_url):
    payload = with_status("status_delivered", "sent", message="x" * 70_000)
    assert post(csrf_client, webhook_url, payload).status_code == 413
    # Issue 10: kept, marked rejected, its first 64 KB only.
    event = CarrierEvent.objects.get()
    assert (event.rejected, event.truncated) == (True, True)
    assert event.raw_bytes() == json.dumps(payload).encode()[: 64 * 1024]
    assert not Message.objects.exists()


def test_a_body_that_is_not_declared_json_answers_415(csrf_client, webhook_url):
    response = csrf_client.post(webhook_url, {"message_sid": "x"})
    assert response.status_code == 415
    # Issue 10: kept as sent (a form body), marked rejected.
    event = CarrierEvent.objects.get()
    assert event.rejected and b'name="message_sid"' in event.raw_bytes()
    assert not Message.objects.exists()


def test_get_answers_405(csrf_client, webhook_url):
    assert csrf_client.get(webhook_url).status_code == 405
    assert not CarrierEvent.objects.exists()
    assert not Message.objects.exists()
    # The same URL takes a POST: the 405 is about the method, not a missing route.
    assert post(csrf_client, webhook_url, load_fixture("status_delivered")).status_code == 200


def test_a_body_without_message_sid_is_kept_and_acknowledged(csrf_client, webhook_url):
    response = post(csrf_client, webhook_url, {"status": "sent"})
    assert response.status_code == 200
    assert CarrierEvent.objects.get().outcome.startswith("kept; no message_sid")
    assert not Message.objects.exists()
