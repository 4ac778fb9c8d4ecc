"""Promises of the message lifecycle that only a deliberate breakage showed untested (issue 11,
item 9): the first final status sticks, a send records who sent it, reconciliation finds a message
at a carrier that cannot filter on `user_data`, and the numbers sync forgets numbers the carrier no
longer lists. Each goes through the portal's own doors (the webhook, the Send page, the task
worker, the sync) against the sandbox over HTTP."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

import pytest
import requests
from django.core.signals import request_started
from django.test import Client
from django.urls import reverse

from messaging.models import Message
from phone_numbers.models import Did
from phone_numbers.sync import numbers_sync
from sandbox.faults import faults_update
from sandbox.models import SandboxDid, SandboxMessage
from tests.conftest import load_fixture, run_tasks

OUR_DID = "15162065575"
HANDSET = "15162065574"


def post_callback(url: str, payload: dict) -> int:
    response = Client(enforce_csrf_checks=True).post(
        url, data=json.dumps(payload), content_type="application/json"
    )
    return response.status_code


# --- final statuses ------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("first", "second"), [("delivered", "failed"), ("failed", "delivered")], ids=lambda s: s
)
def test_the_first_final_status_sticks_whichever_comes_second(webhook_url, first, second):
    for status in (first, second):
        payload = load_fixture("status_delivered")
        payload["status"] = status
        assert post_callback(webhook_url, payload) == 200

    message = Message.objects.get()
    assert message.status == first
    # Both bodies are kept, the second one as what it was: too late to change anything.
    assert [e.status for e in message.events.order_by("id")] == [first, second]


# --- who sent it ---------------------------------------------------------------------------------


def test_a_message_sent_from_the_page_records_and_shows_the_signed_in_sender(
    sandbox, sender_client, sender, inbox_staff
):
    numbers_sync()
    response = sender_client.post(
        "/messaging/", {"from_did": OUR_DID, "to_did": HANDSET, "message": "Signed, Sam"}
    )
    assert response.status_code == 302

    message = Message.objects.get()
    assert message.sent_by == sender
    reader = Client()
    reader.force_login(inbox_staff)
    page = reader.get(reverse("messaging:message", args=[message.pk]))
    assert page.status_code == 200
    assert "Sent by" in page.content.decode()
    assert f"<dd>{sender.username}</dd>" in page.content.decode()


# --- reconciliation without the user_data filter -------------------------------------------------


@pytest.fixture
def sandbox_lists(sandbox):
    """The `filter` of every message list the sandbox was asked for."""
    filters: list[str] = []

    def record(sender, environ, **kwargs) -> None:
        if environ["REQUEST_METHOD"] == "GET" and environ["PATH_INFO"].endswith("/sms/messages"):
            filters.extend(parse_qs(environ.get("QUERY_STRING", "")).get("filter", [""]))

    request_started.connect(record, weak=False)
    yield filters
    request_started.disconnect(record)


def test_reconciliation_finds_the_message_by_sender_recipient_and_text_when_user_data_is_refused(
    sandbox, sandbox_lists, sender_client, settings
):
    settings.SANDBOX_FILTER_ON_USER_DATA = False  # an older account
    sandbox.callbacks = {}
    sandbox.save(update_fields=["callbacks"])
    numbers_sync()
    # The carrier takes the send, then the connection drops before its answer arrives.
    faults_update({"drop": 1, "drop_after_processing": 1})
    sender_client.post(
        "/messaging/", {"from_did": OUR_DID, "to_did": HANDSET, "message": "Your code is 4321"}
    )
    run_tasks()

    message = Message.objects.get()
    copy = SandboxMessage.objects.get()  # sent once, never twice
    assert message.message_sid == copy.message_sid
    assert (message.send_attempts, message.resent, message.needs_attention) == (1, False, False)
    assert message.status in {"queued", "sent", "delivered"}
    # It asked by our id first, was refused, and found the message by the fallback search.
    assert sandbox_lists[0].startswith("user_data eq ")
    assert any(f'from eq "{OUR_DID}" and to eq "{HANDSET}"' in f for f in sandbox_lists[1:])


def test_the_sandbox_refuses_a_user_data_filter_only_when_told_to_act_as_an_older_account(
    sandbox, live_server, settings
):
    url = f"{live_server.url}/sandbox/core/v2/sms/messages"
    headers = {"Authorization": f"Bearer {settings.CARRIERX_TOKEN}"}
    query = {"filter": 'user_data eq "portal:1"'}
    assert requests.get(url, params=query, headers=headers, timeout=10).status_code == 200
    settings.SANDBOX_FILTER_ON_USER_DATA = False
    refused = requests.get(url, params=query, headers=headers, timeout=10)
    assert refused.status_code == 400
    assert "cannot filter on 'user_data'" in refused.text


# --- numbers the carrier no longer lists ---------------------------------------------------------


def test_a_sync_drops_a_number_the_carrier_no_longer_lists(sandbox, admin_client_):
    numbers_sync()
    released = SandboxDid.objects.get(phonenumber=OUR_DID)
    assert Did.objects.filter(did_sid=released.did_sid).exists()
    kept = set(Did.objects.exclude(did_sid=released.did_sid).values_list("did_sid", flat=True))
    assert kept

    released.delete()  # released at the carrier, outside the portal
    numbers_sync()

    assert not Did.objects.filter(did_sid=released.did_sid).exists()
    assert set(Did.objects.values_list("did_sid", flat=True)) == kept
    assert OUR_DID not in admin_client_.get("/numbers/").content.decode()
