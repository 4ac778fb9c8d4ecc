"""STOP and START: customers opt out of a DID; nothing is sent to them from it until START."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from messaging.models import AutoReply, Message, OptOut
from messaging.services.auto_reply import auto_reply_skip_reason
from messaging.services.opt_out import keyword
from phone_numbers.models import Did
from tests.conftest import load_fixture, make_user

pytestmark = pytest.mark.django_db
CUSTOMER = "15162065319"
OUR_DID = "15162065318"
OTHER_DID = "15162065575"


@pytest.fixture(autouse=True)
def dids():
    for n in (OUR_DID, OTHER_DID):
        Did.objects.create(did_sid=n, phonenumber=n, active_capabilities=7, capabilities=7)


def text_us(webhook_url, body, *, sid, did=OUR_DID):
    payload = load_fixture("inbound_legacy")
    payload.update(message_sid=sid, message=body, from_did=CUSTOMER, to_did=did)
    response = Client().post(webhook_url, json.dumps(payload), content_type="application/json")
    assert response.status_code == 200
    return Message.objects.get(message_sid=sid)


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("STOP", "STOP"),
        ("stop", "STOP"),
        ("  Stop! ", "STOP"),
        ("stopall", "STOPALL"),
        ("Unsubscribe.", "UNSUBSCRIBE"),
        ("cancel", "CANCEL"),
        ("END", "END"),
        ("quit", "QUIT"),
        ("start", "START"),
        ("Unstop", "UNSTOP"),
        ("yes!", "YES"),
        ("please stop texting me", None),
        ("stop it", None),
        ("", None),
    ],
)
def test_only_a_whole_message_keyword_counts(text, word):
    assert keyword(text) == word


def test_stop_opts_the_customer_out_of_that_did_only(webhook_url):
    text_us(webhook_url, "Stop.", sid="a")
    record = OptOut.objects.get()
    assert (record.customer_number, record.our_number, record.opted_out) == (
        CUSTOMER,
        OUR_DID,
        True,
    )
    assert record.keyword == "STOP"


def test_start_opts_the_customer_back_in(webhook_url):
    text_us(webhook_url, "STOP", sid="a")
    text_us(webhook_url, "start", sid="b")
    assert OptOut.objects.get().opted_out is False


def test_the_composer_refuses_an_opted_out_number_before_any_carrier_call(client, webhook_url):
    text_us(webhook_url, "quit", sid="a")
    client.force_login(make_user("sam", "Senders"))
    response = client.post(
        "/messaging/",
        {"from_did": OUR_DID, "to_did": "+1 516-206-5319", "message": "Sale today!"},
    )
    assert response.status_code == 422
    assert "opted out of +1 516-206-5318" in response.content.decode()
    assert "text START to opt back in" in response.content.decode()
    assert not Message.objects.filter(direction="outbound").exists()


def test_another_did_may_still_text_the_customer(client, webhook_url):
    text_us(webhook_url, "STOP", sid="a")
    client.force_login(make_user("sam", "Senders"))
    response = client.post(
        "/messaging/", {"from_did": OTHER_DID, "to_did": CUSTOMER, "message": "Hi"}
    )
    assert response.status_code == 302
    assert Message.objects.filter(direction="outbound", our_number=OTHER_DID).exists()


def test_a_reply_to_an_opted_out_customer_is_refused_and_the_conversation_says_so(
    client, webhook_url
):
    text_us(webhook_url, "STOP", sid="a")
    client.force_login(make_user("ines", "Inbox staff"))
    page = client.get(reverse("messaging:conversation", args=[CUSTOMER])).content.decode()
    assert "Opted out:" in page
    assert "texted STOP" in page
    response = client.post(
        reverse("messaging:reply", args=[CUSTOMER]), {"from_did": OUR_DID, "message": "?"}
    )
    assert response.status_code == 422
    assert "opted out of" in response.content.decode()
    assert not Message.objects.filter(direction="outbound").exists()


def test_auto_reply_stays_silent_for_an_opted_out_customer(webhook_url):
    AutoReply.objects.create(did=Did.objects.get(phonenumber=OUR_DID), enabled=True)
    stop = text_us(webhook_url, "STOP", sid="a")
    assert auto_reply_skip_reason(stop, AutoReply.objects.get()) == (
        "the customer opted out of this DID"
    )


def test_a_send_queued_before_the_stop_arrived_is_not_sent(webhook_url):
    from messaging.services.outbound import message_send
    from messaging.tasks import send_message_task

    queued = message_send(from_number=OUR_DID, to=CUSTOMER, body="Weekly deals")
    text_us(webhook_url, "STOP", sid="a")
    # The worker picks it up after the STOP: it must not reach the carrier.
    assert send_message_task.call(queued.pk) == "opted out"
    queued.refresh_from_db()
    assert queued.status == "failed"
    assert queued.error.startswith("Not sent: +1 516-206-5319 opted out of")
    assert queued.message_sid is None
