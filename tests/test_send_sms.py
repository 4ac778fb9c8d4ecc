"""The Messaging page: pick a From DID, type a To DID and a message, press Send."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from messaging.models import Message
from phone_numbers.models import Did
from phone_numbers.sync import numbers_sync
from sandbox.models import SandboxMessage
from tests.conftest import run_tasks
from tests.netfaults import closed_port_url

SEND_URL = "/messaging/"
OUR_DID = "15162065575"


def send(client, *, to="+1 (516) 206-5574", message="Hello from the portal", from_did=OUR_DID):
    return client.post(SEND_URL, {"from_did": from_did, "to_did": to, "message": message})


@pytest.fixture
def synced(sandbox, sender_client):
    """A sync has read our numbers from the sandbox (pages never call the carrier)."""
    numbers_sync()
    return sender_client


def test_a_sent_message_goes_queued_sent_delivered_with_the_carriers_sid_segments_and_price(
    synced,
):
    response = send(synced, message="Your order has shipped")
    assert response.status_code == 302

    message = Message.objects.get()
    assert message.status == "sending"  # saved first; the carrier is called in the background
    assert message.our_number == OUR_DID
    assert message.their_number == "15162065574"
    assert not SandboxMessage.objects.exists()

    # Our worker POSTs it; the sandbox answers queued, moves it on and calls our webhook.
    run_tasks()

    message.refresh_from_db()
    carrier_copy = SandboxMessage.objects.get(message_sid=message.message_sid)
    assert carrier_copy.message == "Your order has shipped"
    assert carrier_copy.to_number == "15162065574"
    assert message.send_attempts == 1
    assert message.status == "delivered"
    assert message.segments == 1
    assert message.price is not None and message.price > 0
    assert [e.status for e in message.events.order_by("id")] == ["sent", "delivered"]


def test_the_page_shows_the_status_change_in_its_live_fragment(synced):
    send(synced)
    fragment = synced.get(reverse("messaging:recent"), HTTP_HX_REQUEST="true")
    assert 'data-status="sending"' in fragment.content.decode()
    assert fragment.status_code == 200  # still polling: not final yet

    run_tasks()
    fragment = synced.get(reverse("messaging:recent"), HTTP_HX_REQUEST="true")
    assert 'data-status="delivered"' in fragment.content.decode()
    assert "<html" not in fragment.content.decode()
    assert fragment.status_code == 286  # every message is final: htmx stops polling


def test_the_from_did_dropdown_offers_only_our_sms_numbers(sandbox, sender_client):
    numbers_sync()
    page = sender_client.get(SEND_URL).content.decode()
    sms_numbers = {d.phonenumber for d in Did.objects.sms_capable()}
    assert len(sms_numbers) == 10
    assert Did.objects.count() == 12  # every page of the carrier's list, voice-only ones too
    for number in sms_numbers:
        assert f'value="{number}"' in page
    for voice_only in Did.objects.exclude(phonenumber__in=sms_numbers):
        assert f'value="{voice_only.phonenumber}"' not in page


def test_the_page_uses_the_carriers_labels(synced):
    page = synced.get(SEND_URL).content.decode()
    for label in ("From DID", "To DID", "Message", ">Send<"):
        assert label in page


def test_an_empty_message_is_refused_in_the_form_and_nothing_is_sent(synced):
    response = send(synced, message="   ")
    assert response.status_code == 422
    assert "Type a message to send." in response.content.decode()
    assert not Message.objects.exists()
    assert not SandboxMessage.objects.exists()


def test_an_unparsable_to_did_is_refused_in_the_form(synced):
    response = send(synced, to="call me maybe")
    assert response.status_code == 422
    assert "is not a phone number" in response.content.decode()
    assert not Message.objects.exists()


def test_a_from_did_that_is_not_ours_is_refused_in_the_form(synced):
    response = send(synced, from_did="19995550100")
    assert response.status_code == 422
    assert "19995550100 is not one of our SMS numbers" in response.content.decode()
    assert not Message.objects.exists()
    assert not SandboxMessage.objects.exists()


def test_a_carrier_refusal_shows_the_carriers_reason_and_leaves_a_failed_row(synced):
    # Our cache still lists a number the carrier no longer lets us send from.
    Did.objects.create(
        did_sid="gone", phonenumber="15165550123", active_capabilities=7, capabilities=7
    )
    send(synced, from_did="15165550123")
    run_tasks()
    message = Message.objects.get()
    assert message.status == "failed"
    assert message.send_attempts == 1  # a refusal is final: never retried
    assert "HTTP 422" in message.error
    page = synced.get(SEND_URL).content.decode()
    assert message.error.split(" (HTTP")[0] in page
    assert not SandboxMessage.objects.exists()


def test_a_carrier_that_does_not_answer_leaves_an_unknown_row_flagged_and_says_unavailable(
    synced, settings, silent_server
):
    settings.CARRIERX_API_URL = silent_server
    settings.CARRIERX_TIMEOUT = (1, 0.3)
    send(synced)
    run_tasks()
    message = Message.objects.get()
    # It may have arrived, so it is never POSTed again blindly; the carrier could not be asked.
    assert message.status == "unknown"
    assert message.send_attempts == 1
    assert message.needs_attention
    assert "CarrierX did not answer in time" in message.error
    page = synced.get(SEND_URL).content.decode()
    assert "CarrierX unavailable." in page
    assert "needs attention" in page


def test_an_unreachable_carrier_is_retried_then_the_row_fails_with_the_reason(synced, settings):
    settings.CARRIERX_API_URL = closed_port_url()
    send(synced)
    run_tasks()
    message = Message.objects.get()
    assert message.status == "failed"
    assert message.send_attempts == settings.SEND_MAX_ATTEMPTS
    assert "CarrierX is unreachable (could not connect)" in message.error
    assert "gave up after 5 attempts" in message.error
    assert "CarrierX unavailable." in synced.get(SEND_URL).content.decode()


@pytest.mark.django_db
def test_signing_in_is_required(client):
    response = client.get(SEND_URL)
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")


@pytest.mark.django_db
def test_a_user_without_the_send_permission_gets_403(client):
    client.force_login(User.objects.create_user("viewer"))
    assert client.get(SEND_URL).status_code == 403
    assert send(client).status_code == 403
    assert not Message.objects.exists()
