"""A campaign does not fill the team inbox's open lists: the conversations its texts create start
done, and a customer's reply opens theirs (in Unassigned) like any done conversation."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from campaigns import services
from campaigns.models import Campaign
from campaigns.recipients import read_pasted, recipients_prepare
from messaging.models import Conversation, ConversationEvent
from messaging.selectors.conversations import inbox_conversations
from phone_numbers.models import Did
from phone_numbers.sync import numbers_sync
from tests.conftest import load_fixture, make_user, run_tasks

pytestmark = pytest.mark.django_db(transaction=True)

ALREADY_TALKING = "12125550100"


def test_a_campaigns_new_conversations_start_done_and_a_reply_opens_one(
    sandbox, settings, sender, webhook_url
):
    settings.SANDBOX_STEP_SECONDS = 3600
    numbers_sync()
    did = Did.objects.filter(released_at__isnull=True).order_by("phonenumber").first()
    ines = make_user("ines", "Inbox staff")
    # A customer the team is already talking to: their open conversation stays open.
    Conversation.objects.create(
        customer_number=ALREADY_TALKING, last_activity_at="2026-01-01T00:00:00Z"
    )
    campaign = Campaign.objects.create(
        name="Spring",
        body="Hi",
        dids=[did.phonenumber],
        created_by=sender,
        rate_per_did=Decimal(50),
    )
    numbers = [f"1212555{i:04d}" for i in range(100, 105)]
    recipients_prepare(campaign, read_pasted("\n".join("+" + n for n in numbers)))
    services.campaign_start(campaign)
    run_tasks()

    states = dict(Conversation.objects.values_list("customer_number", "state"))
    assert states[ALREADY_TALKING] == "open"
    assert {states[n] for n in numbers if n != ALREADY_TALKING} == {"done"}
    assert list(inbox_conversations(ines, view="unassigned")) == [
        Conversation.objects.get(customer_number=ALREADY_TALKING)
    ]

    replying = numbers[2]
    payload = load_fixture("inbound_legacy")
    payload.update(
        message_sid="reply-1", message="Yes please", from_did=replying, to_did=did.phonenumber
    )
    response = Client().post(webhook_url, json.dumps(payload), content_type="application/json")
    assert response.status_code == 200
    conversation = Conversation.objects.get(customer_number=replying)
    assert conversation.state == "open"
    assert {c.customer_number for c in inbox_conversations(ines, view="unassigned")} == {
        ALREADY_TALKING,
        replying,
    }
    assert list(conversation.events.values_list("kind", flat=True)) == [
        ConversationEvent.Kind.REOPENED
    ]
    client = Client()
    client.force_login(ines)
    page = client.get(reverse("messaging:inbox")).content.decode()
    assert f'id="conversation-{replying}"' in page
    assert f'id="conversation-{numbers[3]}"' not in page
