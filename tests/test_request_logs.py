"""One log line per request and per task, and a request id that follows a send from the click on
Send to the worker, the carrier call and back through the carrier's callback."""

from __future__ import annotations

import json
import logging

import pytest
from django.conf import settings

from messaging.models import Message
from phone_numbers.sync import numbers_sync
from portal.request_context import JsonFormatter, RequestIdFilter
from tests.conftest import run_tasks

OUR_DID = "15162065575"
BODY = "Parcel 7741 is at the depot"


@pytest.fixture
def log(caplog):
    """Records as the console handler sees them: with the request id the production filter adds."""
    caplog.set_level(logging.INFO)
    caplog.handler.addFilter(RequestIdFilter())
    return caplog


def lines(log, request_id: str) -> list[str]:
    return [r.getMessage() for r in log.records if getattr(r, "request_id", "") == request_id]


def test_a_send_is_followed_by_one_id_from_the_click_to_the_carrier_and_back(
    sandbox, sender_client, log
):
    numbers_sync()
    response = sender_client.post(
        "/messaging/", {"from_did": OUR_DID, "to_did": "+1 516 206 5574", "message": BODY}
    )
    request_id = response["X-Request-ID"]
    message = Message.objects.get()
    assert message.request_id == request_id
    run_tasks()
    assert Message.objects.get().status == "delivered"

    mine = lines(log, request_id)
    assert any(line.startswith("POST /messaging/ 302 ") for line in mine)
    assert any(line.startswith("task send_message_task: sent as ") for line in mine)
    assert any(line.startswith("carrier POST sms/messages 200 ") for line in mine)
    # The carrier's callbacks arrive as requests of their own, and name the send's request.
    callbacks = [
        r.getMessage() for r in log.records if f"(sent in request {request_id})" in r.getMessage()
    ]
    assert any(line.endswith("→ delivered") for line in callbacks), callbacks


def test_no_message_body_or_secret_is_logged_at_info(sandbox, sender_client, log):
    numbers_sync()
    sender_client.post(
        "/messaging/", {"from_did": OUR_DID, "to_did": "+1 516 206 5574", "message": BODY}
    )
    run_tasks()
    assert Message.objects.get().status == "delivered"
    text = "\n".join(r.getMessage() for r in log.records)
    assert "POST /messaging/ 302" in text  # the request lines were captured
    assert BODY not in text
    assert settings.CARRIERX_TOKEN not in text
    assert settings.CARRIERX_WEBHOOK_SECRET not in text.replace("[redacted]", "")


def test_a_proxys_request_id_is_kept_and_a_strange_one_replaced(client, db):
    kept = client.get("/healthz", HTTP_X_REQUEST_ID="lb-7f3a9c21-0001")
    assert kept["X-Request-ID"] == "lb-7f3a9c21-0001"
    replaced = client.get("/healthz", HTTP_X_REQUEST_ID="x\n<script>" * 20)
    assert replaced["X-Request-ID"] != "x\n<script>" * 20
    assert len(replaced["X-Request-ID"]) == 32 and replaced["X-Request-ID"].isalnum()


def test_each_request_gets_its_own_id(client, db):
    first, second = client.get("/healthz"), client.get("/healthz")
    assert first["X-Request-ID"] != second["X-Request-ID"]


def test_json_logs_are_one_object_per_line_with_the_request_id(client, db, log):
    client.get("/healthz", HTTP_X_REQUEST_ID="probe-request-0001")
    record = next(r for r in log.records if r.name == "portal.requests")
    entry = json.loads(JsonFormatter().format(record))
    assert entry["request_id"] == "probe-request-0001"
    assert entry["logger"] == "portal.requests" and entry["level"] == "INFO"
    assert entry["message"].startswith("GET /healthz ")
    assert entry["time"].endswith("Z")
