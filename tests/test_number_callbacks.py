"""The partner's number callbacks on the webhook's URL, told apart from SMS objects by shape:
`phonenumber_messaging_update` moves a DID's enablement, `phonenumber_order` adds a rented
number; each body is kept as a carrier event. Point at this portal on the partner asks for both."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from messaging.models import CarrierEvent, Message
from phone_numbers.models import Did, Partner
from phone_numbers.selectors import portal_webhook_url
from phone_numbers.sync import numbers_sync
from sandbox.models import SandboxDid, SandboxPartner
from tests.conftest import run_tasks

MAIN_LINE = "15162065575"


def post(webhook_url: str, body: dict):
    return Client(enforce_csrf_checks=True).post(
        webhook_url, json.dumps(body), content_type="application/json"
    )


@pytest.fixture
def did(db) -> Did:
    return Did.objects.create(
        did_sid="f448e2c3-88c1-4cd1-8cf2-3567c16e0794",
        phonenumber=MAIN_LINE,
        capabilities=31,
        active_capabilities=4,
        messaging_status="in_progress",
    )


def test_a_messaging_update_moves_the_dids_enablement_and_is_kept(did, webhook_url):
    body = {
        "campaign_external_id": None,
        "campaign_sid": "rejected-1",
        "did_sid": did.did_sid,
        "enabled": True,
        "p2p_nnid": None,
        "status": "failed",
        "status_reason": "campaign rejected-1 was rejected by the Campaign Registry",
        "type": "a2p",
    }

    answer = post(webhook_url, body)

    assert answer.status_code == 200
    did.refresh_from_db()
    assert (did.messaging_status, did.campaign_sid) == ("failed", "rejected-1")
    assert "rejected by the Campaign Registry" in did.messaging_reason
    event = CarrierEvent.objects.get()
    assert json.loads(event.body) == body
    assert event.outcome == f"messaging failed for {MAIN_LINE}"
    assert not Message.objects.exists()


def test_an_order_callback_adds_the_rented_number(db, webhook_url):
    body = {
        "active_capabilities": 4,
        "capabilities": 31,
        "did_sid": "07e3dee3-2f0d-4254-b635-21334ccde8b9",
        "locality": "NEW YORK",
        "name": "N/A",
        "phonenumber": "15162065573",
        "status": "assigned",
    }

    assert post(webhook_url, body).status_code == 200

    assert Did.objects.get(did_sid=body["did_sid"]).phonenumber == "15162065573"
    assert CarrierEvent.objects.get().outcome == "number order: 15162065573 rented"


def test_a_messaging_update_with_a_wrongly_typed_field_changes_nothing(did, webhook_url):
    body = {"did_sid": did.did_sid, "enabled": "yes", "status": "enabled"}

    assert post(webhook_url, body).status_code == 200

    did.refresh_from_db()
    assert did.messaging_status == "in_progress"
    assert CarrierEvent.objects.get().outcome == "kept; no message_sid, nothing to apply"


@pytest.mark.django_db(transaction=True)
def test_point_at_this_portal_asks_for_number_callbacks_too_and_keeps_the_others(
    sandbox, admin_client_
):
    SandboxPartner.objects.filter(pk=sandbox.pk).update(
        callbacks={"sms": "https://elsewhere.example/sms", "app_mediator": "https://m.example/"}
    )
    numbers_sync()
    partner = Partner.objects.get()

    admin_client_.post(reverse("numbers:partner_callback"), {"action": "point"})

    url = portal_webhook_url()
    assert SandboxPartner.objects.get(pk=sandbox.pk).callbacks == {
        "sms": url,
        "phonenumber_messaging_update": url,
        "phonenumber_order": url,
        "app_mediator": "https://m.example/",
    }
    partner.refresh_from_db()
    assert partner.callbacks["phonenumber_messaging_update"] == url


@pytest.mark.django_db(transaction=True)
def test_the_carriers_messaging_update_reaches_the_open_number(sandbox, admin_client_, settings):
    settings.NUMBERS_ENABLEMENT_POLL_SECONDS = 3600  # only the callback can tell us
    numbers_sync()
    admin_client_.post(reverse("numbers:partner_callback"), {"action": "point"})
    did = Did.objects.get(phonenumber=MAIN_LINE)
    SandboxDid.objects.filter(did_sid=did.did_sid).update(
        messaging_enabled=False, messaging_status="disabled", active_capabilities=4
    )

    admin_client_.post(reverse("numbers:messaging", args=[did.did_sid]), {"enabled": "true"})
    run_tasks()

    did.refresh_from_db()
    assert did.messaging_status == "enabled"
    assert CarrierEvent.objects.filter(outcome=f"messaging enabled for {MAIN_LINE}").exists()


@pytest.mark.parametrize("field", ["callback_url", "name", "direction", "locality"])
def test_an_order_callback_with_a_nul_in_a_field_is_stored_not_a_crash(db, webhook_url, field):
    # Found by the webhook fuzz on PostgreSQL: NUL in a text column or \u0000 in jsonb was a 500.
    body = {
        "active_capabilities": 4,
        "capabilities": 31,
        "did_sid": "07e3dee3-2f0d-4254-b635-21334ccde8b9",
        "locality": "NEW YORK",
        "name": "N/A",
        "phonenumber": "15162065573",
        "status": "assigned",
        field: "a\u0000b",
    }

    answer = Client(raise_request_exception=False).post(
        webhook_url, json.dumps(body), content_type="application/json"
    )

    assert answer.status_code == 200
    assert Did.objects.get(did_sid=body["did_sid"]).phonenumber == "15162065573"
    assert json.loads(CarrierEvent.objects.get().body)["did_sid"] == body["did_sid"]
