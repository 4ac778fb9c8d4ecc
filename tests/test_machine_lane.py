"""The carrier's callbacks and the sandbox's Core API skip the middleware that serves people
(portal/machine_lane.py), and keep what they need: the request id and its log line, the HTTPS
redirect, their own answers. Every other request walks the whole chain as before."""

from __future__ import annotations

import json
import logging

import pytest

from messaging.models import CarrierEvent, Message
from tests.conftest import load_fixture


@pytest.fixture
def inbound() -> bytes:
    return json.dumps(load_fixture("inbound_legacy")).encode()


def test_a_callback_is_stored_and_answered_without_the_pages_headers_or_a_session(
    client, db, webhook_url, inbound
):
    answer = client.post(webhook_url, inbound, content_type="application/json", secure=True)
    assert answer.status_code == 200
    assert answer.json()["ok"] is True
    assert Message.objects.count() == 1 and CarrierEvent.objects.count() == 1
    assert answer["X-Request-ID"]
    assert "Content-Security-Policy" not in answer  # a JSON answer to a machine
    assert "X-Frame-Options" not in answer
    assert not answer.cookies  # no session, no CSRF cookie


def test_a_page_still_walks_every_middleware(client, db):
    page = client.get("/accounts/login/", secure=True)
    assert page.status_code == 200
    assert "Content-Security-Policy" in page
    assert page["X-Frame-Options"] == "DENY"
    assert page["X-Request-ID"]


def test_a_callback_gets_one_log_line_with_its_request_id(client, db, webhook_url, inbound, caplog):
    caplog.set_level(logging.INFO, logger="portal.requests")
    answer = client.post(
        webhook_url,
        inbound,
        content_type="application/json",
        secure=True,
        HTTP_X_REQUEST_ID="carrier-callback-0001",
    )
    assert answer["X-Request-ID"] == "carrier-callback-0001"
    lines = [r.getMessage() for r in caplog.records if r.name == "portal.requests"]
    assert len(lines) == 1
    assert lines[0].startswith("POST /webhooks/carrierx/[redacted]/ 200")


def test_the_https_redirect_still_comes_before_the_lane(client, db, webhook_url, inbound, settings):
    settings.SECURE_SSL_REDIRECT = True
    answer = client.post(webhook_url, inbound, content_type="application/json")
    assert answer.status_code == 301
    assert answer["Location"].startswith("https://")
    assert not CarrierEvent.objects.exists()


@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_the_webhook_still_refuses_anything_but_post(client, db, webhook_url, method):
    answer = getattr(client, method)(webhook_url, secure=True)
    assert answer.status_code == 405
    assert not CarrierEvent.objects.exists()


@pytest.mark.parametrize(
    "path",
    [
        "/webhooks/carrierx/not-the-secret/",
        "/webhooks/carrierx/{secret}",  # no trailing slash: not the webhook's URL
        "/webhooks/carrierx/{secret}/extra/",
        "/webhooks/carrierx/",
    ],
)
def test_a_path_beside_the_webhook_is_answered_as_before_without_the_secret(
    client, db, settings, inbound, path
):
    secret = settings.CARRIERX_WEBHOOK_SECRET
    answer = client.post(
        path.format(secret=secret), inbound, content_type="application/json", secure=True
    )
    assert answer.status_code == 404
    assert secret not in answer.content.decode()
    assert not CarrierEvent.objects.exists()


def test_a_bad_body_through_the_lane_is_refused_with_its_reason_and_kept(client, db, webhook_url):
    answer = client.post(webhook_url, b"{not json", content_type="application/json", secure=True)
    assert answer.status_code == 400
    assert answer.json()["error"]
    event = CarrierEvent.objects.get()
    assert event.rejected and event.raw == b"{not json"


# --- the sandbox's Core API: the carrier's stand-in, answered as a carrier's servers answer ------


@pytest.fixture
def partner(settings):
    from sandbox.seed import seed

    settings.SANDBOX_STEP_SECONDS = 0
    return seed(sms_callback_url=None)


def send_body(partner) -> dict:
    sender = next(d for d in partner.dids.all() if d.can(d.SEND_SMS))
    return {"from": sender.phonenumber, "to": "15162065319", "message": "Your table is ready"}


def test_a_sandbox_api_call_is_answered_without_the_pages_headers_or_a_session(
    client, db, settings, partner
):
    from sandbox.models import SandboxMessage

    answer = client.post(
        "/sandbox/core/v2/sms/messages",
        json.dumps(send_body(partner)),
        content_type="application/json",
        secure=True,
        HTTP_AUTHORIZATION=f"Bearer {settings.CARRIERX_TOKEN}",
    )
    assert answer.status_code == 200, answer.content
    sent = SandboxMessage.objects.get()
    assert answer.json()["message_sid"] == sent.message_sid
    assert (sent.to_number, sent.message) == ("15162065319", "Your table is ready")
    assert answer["X-Request-ID"]
    assert "Content-Security-Policy" not in answer
    assert "X-Frame-Options" not in answer
    assert not answer.cookies


@pytest.mark.parametrize(
    "path", ["/sandbox/core/v2/sms/messages", "/sandbox/core/v2/no/such/route"]
)
def test_a_sandbox_api_call_without_the_token_is_refused_in_the_carriers_shape_through_the_lane(
    client, db, partner, path
):
    from sandbox.models import SandboxMessage

    answer = client.post(
        path, json.dumps(send_body(partner)), content_type="application/json", secure=True
    )
    assert answer.status_code in (401, 404)
    assert answer["Content-Type"] == "application/json"
    assert answer.json()["message"]
    assert "Content-Security-Policy" not in answer
    assert not SandboxMessage.objects.exists()


def test_the_sandboxs_handset_page_still_walks_every_middleware(staff_client):
    page = staff_client.get("/sandbox/phone/", secure=True)
    assert page.status_code == 200
    assert "Content-Security-Policy" in page
    assert page["X-Frame-Options"] == "DENY"
