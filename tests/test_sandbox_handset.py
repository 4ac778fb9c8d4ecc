"""The simulated handset: `POST /sandbox/simulate/inbound` and the `/sandbox/phone/` page that
texts the partner's DIDs and shows the conversation."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from sandbox.models import SandboxMessage, SandboxPartner
from sandbox.seed import seed
from tests.conftest import load_fixture, sandbox_auth

pytestmark = pytest.mark.django_db

HANDSET = "15162065574"
INBOUND_LINE = "15162065318"
MAIN_LINE = "15162065575"
VOICE_ONLY = "15162065581"


@pytest.fixture
def partner(settings) -> SandboxPartner:
    settings.SANDBOX_STEP_SECONDS = 0
    return seed(sms_callback_url="https://portal.example.com/webhook/")


@pytest.fixture
def csrf_client(settings) -> Client:
    # The simulator is a tool for scripts: with the sandbox's token it works without a CSRF token.
    return Client(enforce_csrf_checks=True, headers=sandbox_auth())


def simulate(client: Client, body) -> object:
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post(
        reverse("sandbox:simulate_inbound"), data=data, content_type="application/json"
    )


def inbound(text: str, *, handset: str = HANDSET, did: str = INBOUND_LINE) -> SandboxMessage:
    return SandboxMessage.objects.create(
        partner=SandboxPartner.objects.get(),
        direction="inbound",
        status="received",
        from_number=handset,
        to_number=did,
        message=text,
    )


def outbound(text: str, *, handset: str = HANDSET, status: str = "delivered") -> SandboxMessage:
    return SandboxMessage.objects.create(
        partner=SandboxPartner.objects.get(),
        direction="outbound",
        status=status,
        from_number=MAIN_LINE,
        to_number=handset,
        message=text,
    )


# --- POST /sandbox/simulate/inbound ---------------------------------------------------------------


def test_a_simulated_sms_is_stored_as_received_and_answered_as_the_sms_object(
    csrf_client, partner, django_capture_on_commit_callbacks
):
    body = {"from": "+1 (516) 206-5574", "to": INBOUND_LINE, "message": "Is the shop open?"}
    with django_capture_on_commit_callbacks() as enqueued:
        response = simulate(csrf_client, body)

    assert response.status_code == 200
    sms = response.json()
    assert (sms["direction"], sms["status"]) == ("inbound", "received")
    assert (sms["from_did"], sms["to_did"]) == (HANDSET, INBOUND_LINE)
    stored = SandboxMessage.objects.get(message_sid=sms["message_sid"])
    assert (stored.from_number, stored.to_number, stored.message) == (
        HANDSET,
        INBOUND_LINE,
        "Is the shop open?",
    )
    assert len(enqueued) == 1  # the callback goes out from a task, after the commit


def test_the_legacy_names_are_accepted_too(csrf_client, partner):
    body = {key: value for key, value in load_fixture("inbound_legacy").items() if key != "status"}
    response = simulate(csrf_client, body)
    assert response.status_code == 200
    assert response.json()["from_did"] == "15162065319"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"from": HANDSET, "to": "15550000000", "message": "Hi"}, "to"),
        ({"from": HANDSET, "to": VOICE_ONLY, "message": "Hi"}, "to"),
        ({"from": "12345", "to": INBOUND_LINE, "message": "Hi"}, "from"),
        ({"from": HANDSET, "to": INBOUND_LINE, "message": ""}, "message"),
        ({"to": INBOUND_LINE, "message": "Hi"}, "from"),
    ],
)
def test_a_simulated_sms_that_cannot_arrive_is_refused_with_the_reason(
    csrf_client, partner, body, field
):
    response = simulate(csrf_client, body)
    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == [field]
    assert not SandboxMessage.objects.exists()


def test_a_malformed_simulation_is_a_400(csrf_client, partner):
    response = simulate(csrf_client, "{nope")
    assert response.status_code == 400
    assert response.json()["errors"]
    assert not SandboxMessage.objects.exists()


def test_simulating_before_seeding_says_to_seed(csrf_client, db):
    response = simulate(csrf_client, {"from": HANDSET, "to": INBOUND_LINE, "message": "Hi"})
    assert response.status_code == 409
    assert "sandbox_seed" in response.json()["errors"][0]["message"]


# --- /sandbox/phone/ ------------------------------------------------------------------------------


def test_the_handset_page_offers_staff_only_sms_dids(staff_client, partner):
    response = staff_client.get(reverse("sandbox:phone"))

    assert response.status_code == 200
    page = response.content.decode()
    assert f'value="{HANDSET}"' in page
    assert f'<option value="{INBOUND_LINE}"' in page
    assert f'<option value="{MAIN_LINE}"' in page
    assert f'<option value="{VOICE_ONLY}"' not in page
    assert 'hx-trigger="every 2s"' in page


def test_the_thread_shows_both_directions_with_status_and_not_other_handsets(staff_client, partner):
    inbound("Do you deliver?")
    outbound("The SMS status is: received", status="sent")
    inbound("Someone else's text", handset="15165550123")

    page = staff_client.get(reverse("sandbox:phone"), {"handset": HANDSET}).content.decode()

    assert "Do you deliver?" in page
    assert "The SMS status is: received" in page
    assert '<span class="status">sent</span>' in page
    assert '<span class="status">received</span>' in page
    assert "Someone else&#x27;s text" not in page
    assert page.index("Do you deliver?") < page.index("The SMS status is: received")


def test_sending_from_the_form_without_javascript_redirects_back_to_the_thread(
    staff_client, partner
):
    form = {"handset": "+1 (516) 206-5574", "did": INBOUND_LINE, "message": "Hello there"}

    response = staff_client.post(reverse("sandbox:phone"), form)

    assert response.status_code == 302
    assert response["Location"] == f"/sandbox/phone/?handset={HANDSET}&did={INBOUND_LINE}"
    message = SandboxMessage.objects.get()
    assert (message.direction, message.status) == ("inbound", "received")
    assert (message.from_number, message.to_number, message.message) == (
        HANDSET,
        INBOUND_LINE,
        "Hello there",
    )
    assert "Hello there" in staff_client.get(response["Location"]).content.decode()


def test_sending_with_htmx_swaps_in_the_form_and_thread(staff_client, partner):
    form = {"handset": HANDSET, "did": INBOUND_LINE, "message": "Via htmx"}

    response = staff_client.post(reverse("sandbox:phone"), form, HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    fragment = response.content.decode()
    assert fragment.lstrip().startswith('<div id="handset"')
    assert "<html" not in fragment
    assert "Via htmx" in fragment.split('id="thread"')[1]  # in the thread, not left in the form
    assert SandboxMessage.objects.filter(message="Via htmx").exists()


def test_polling_gets_only_the_thread(staff_client, partner):
    inbound("Polled")
    response = staff_client.get(
        reverse("sandbox:phone"), {"handset": HANDSET}, HTTP_HX_REQUEST="true"
    )

    fragment = response.content.decode()
    assert fragment.lstrip().startswith('<section id="thread"')
    assert "<form" not in fragment
    assert "Polled" in fragment
    assert "HX-Request" in response["Vary"]


def test_a_bad_form_shows_the_reason_and_keeps_what_was_typed(staff_client, partner):
    form = {"handset": "12", "did": INBOUND_LINE, "message": "Keep me"}

    response = staff_client.post(reverse("sandbox:phone"), form)

    assert response.status_code == 200
    page = response.content.decode()
    assert "Handset: must be 10 to 15 digits" in page
    assert 'value="12"' in page
    assert ">Keep me</textarea>" in page
    assert not SandboxMessage.objects.exists()


def test_the_handset_page_before_seeding_says_to_seed(staff_client, db):
    page = staff_client.get(reverse("sandbox:phone")).content.decode()
    assert "manage.py sandbox_seed" in page
    assert '<form method="post"' not in page
