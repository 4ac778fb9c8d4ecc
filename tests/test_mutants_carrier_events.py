"""Carrier events where mutation testing (docs/mutation-testing.md) found the suite silent: which
inbound texts queue an auto-reply, the status a message first seen in a callback starts at, and
marking one conversation read; and the opt-out rule every send asks."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from messaging.models import AutoReply, Conversation, ConversationEvent, Message, OptOut
from messaging.services.carrier_events import conversation_add_message
from messaging.services.opt_out import opt_out_refusal
from phone_numbers.models import CAP_SMS_IN, CAP_SMS_OUT, Did
from tests.conftest import load_fixture, make_user

pytestmark = pytest.mark.django_db

OUR_DID = "15162065318"  # where inbound_legacy.json is sent


def did(number: str, n: int) -> Did:
    return Did.objects.create(
        did_sid=f"did-{n}",
        phonenumber=number,
        capabilities=CAP_SMS_IN | CAP_SMS_OUT,
        active_capabilities=CAP_SMS_IN | CAP_SMS_OUT,
    )


def post(webhook_url: str, payload: dict):
    return Client().post(webhook_url, data=json.dumps(payload), content_type="application/json")


def auto_replies_queued() -> int:
    return DBTaskResult.objects.filter(task_path="messaging.tasks.auto_reply_task").count()


@pytest.mark.parametrize("rule", ["on another DID", "turned off"])
def test_an_inbound_text_queues_no_auto_reply_without_an_enabled_rule_on_its_did(webhook_url, rule):
    ours, other = did(OUR_DID, 1), did("15162065575", 2)
    if rule == "on another DID":
        AutoReply.objects.create(did=other, enabled=True)
    else:
        AutoReply.objects.create(did=ours, enabled=False)

    assert post(webhook_url, load_fixture("inbound_legacy")).status_code == 200

    assert Message.objects.get().our_number == OUR_DID
    assert auto_replies_queued() == 0


def test_an_inbound_text_queues_one_auto_reply_when_its_did_has_an_enabled_rule(webhook_url):
    AutoReply.objects.create(did=did(OUR_DID, 1), enabled=True)

    assert post(webhook_url, load_fixture("inbound_legacy")).status_code == 200

    assert auto_replies_queued() == 1


@pytest.mark.parametrize(
    ("direction", "starts_at"), [("inbound", "received"), ("outbound", "sending")]
)
def test_a_message_first_seen_with_a_status_we_do_not_know_starts_at_the_lowest_status(
    webhook_url, direction, starts_at
):
    payload = {
        **load_fixture("inbound_legacy"),
        "direction": direction,
        "status": "carrier_hold",
    }

    assert post(webhook_url, payload).status_code == 200

    assert Message.objects.get().status == starts_at


def test_opening_one_conversation_marks_only_it_read_and_other_inboxes_see_the_change(
    client, webhook_url
):
    did(OUR_DID, 1)
    for sid, customer in (("a", "15162065319"), ("b", "15162065320")):
        payload = {**load_fixture("inbound_legacy"), "message_sid": sid, "from_did": customer}
        assert post(webhook_url, payload).status_code == 200
    client.force_login(make_user("ines", "Inbox staff"))
    since = timezone.now().isoformat()

    assert client.get(reverse("messaging:conversation", args=["15162065319"])).status_code == 200

    unread = dict(Conversation.objects.values_list("customer_number", "unread_count"))
    assert unread == {"15162065319": 0, "15162065320": 1}
    # Another staff member's inbox, polling since before, is told the badge changed.
    poll = client.get(reverse("messaging:inbox"), {"since": since}, HTTP_HX_REQUEST="true")
    assert poll.status_code == 200


# --- the opt-out rule every send asks ------------------------------------------------------------


def test_a_stop_refuses_texts_to_that_customer_only_and_a_start_lifts_it():
    stopped_on = datetime(2026, 3, 5, 12, 0, tzinfo=UTC)
    OptOut.objects.create(
        customer_number="15162065319",
        our_number=OUR_DID,
        opted_out=True,
        keyword="STOP",
        changed_at=stopped_on,
    )
    OptOut.objects.create(
        customer_number="15162065320",
        our_number=OUR_DID,
        opted_out=False,
        keyword="START",
        changed_at=stopped_on,
    )

    refusal = opt_out_refusal(customer="15162065319", our_number=OUR_DID)
    assert refusal.endswith(" (texted STOP on Mar 5, 2026). They can text START to opt back in."), (
        refusal
    )
    assert opt_out_refusal(customer="15162065320", our_number=OUR_DID) is None  # texted START
    assert opt_out_refusal(customer="15162065321", our_number=OUR_DID) is None  # never texted


# --- conversations a message files itself in ---------------------------------------------------


def outbound_to(customer: str) -> Message:
    return Message.objects.create(
        direction="outbound", our_number=OUR_DID, their_number=customer, body="hello"
    )


def test_our_text_starts_an_open_conversation_without_an_inbound_did_and_a_campaigns_a_done_one():
    conversation_add_message(outbound_to("15162065330"))
    conversation_add_message(outbound_to("15162065331"), opens=False)

    rows = Conversation.objects.values_list("customer_number", "state", "last_inbound_did")
    assert sorted(rows) == [("15162065330", "open", ""), ("15162065331", "done", "")]


def test_a_customers_text_records_the_did_it_reached_and_reopens_a_done_conversation(webhook_url):
    conversation_add_message(outbound_to("15162065319"), opens=False)
    assert Conversation.objects.get().state == "done"

    assert post(webhook_url, load_fixture("inbound_legacy")).status_code == 200

    conversation = Conversation.objects.get()
    assert (conversation.state, conversation.last_inbound_did) == ("open", OUR_DID)
    event = ConversationEvent.objects.get()
    assert (event.conversation_id, event.kind, event.actor) == (conversation.pk, "reopened", None)
    assert event.created_at == conversation.state_changed_at
