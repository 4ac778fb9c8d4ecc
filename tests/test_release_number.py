"""Releasing a number over real HTTP against the sandbox: the typed number confirms it, the
carrier answers 204 and keeps it aging, the number leaves the From DID picker, its conversations
stay readable; a failing or silent carrier leaves the portal consistent."""

from __future__ import annotations

import random

import pytest
import requests
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from messaging.models import Conversation, Direction, Message
from phone_numbers.models import Did, NumberChange
from phone_numbers.sync import numbers_sync
from sandbox.faults import faults_update
from sandbox.models import SandboxDid
from tests.conftest import make_user, sandbox_auth

OUR_DID = "15162065318"
CUSTOMER = "15162065574"


@pytest.fixture
def world(sandbox, client):
    numbers_sync()
    client.force_login(make_user("ada", "Senders", "Inbox staff", "Number admins"))
    message = Message.objects.create(
        message_sid="in-1",
        direction=Direction.INBOUND,
        our_number=OUR_DID,
        their_number=CUSTOMER,
        body="Is my order on its way?",
        status="received",
    )
    Conversation.objects.create(
        customer_number=CUSTOMER,
        last_message=message,
        last_activity_at=timezone.now(),
        last_inbound_did=OUR_DID,
    )
    return Did.objects.get(phonenumber=OUR_DID)


def release(client, did, typed):
    return client.post(reverse("numbers:release", args=[did.did_sid]), {"confirm_number": typed})


def carrier_lists(number: str) -> bool:
    answer = requests.get(
        f"{settings.CARRIERX_API_URL}/phonenumber/dids",
        headers=sandbox_auth(),
        params={"limit": 1000},
        timeout=5,
    )
    return number in [d["phonenumber"] for d in answer.json()["items"]]


def test_the_release_page_says_what_stops_and_that_the_carrier_keeps_it_aging(world, client):
    page = client.get(reverse("numbers:release", args=[world.did_sid])).content.decode()

    assert "no longer reach the inbox" in page
    assert "nobody can send from it" in page
    assert "auto-reply stops" in page
    assert "aging" in page


def test_a_wrongly_typed_number_releases_nothing(world, client):
    page = release(client, world, "+1 516 000 0000")

    assert page.status_code == 422
    assert "Type the number" in page.content.decode()
    assert carrier_lists(OUR_DID)
    assert not NumberChange.objects.exists()


def test_release_ends_at_the_carrier_and_leaves_the_pickers_but_keeps_conversations(world, client):
    assert OUR_DID in client.get(reverse("messaging:send")).content.decode()

    answer = release(client, world, "+1 (516) 206-5318")

    assert answer.status_code == 302
    assert SandboxDid.objects.get(did_sid=world.did_sid).status == "aging"
    assert not carrier_lists(OUR_DID)
    world.refresh_from_db()
    assert world.released
    assert f'value="{OUR_DID}"' not in client.get(reverse("messaging:send")).content.decode()
    assert OUR_DID not in client.get(reverse("numbers:list")).content.decode()
    thread = client.get(reverse("messaging:conversation", args=[CUSTOMER]))
    assert thread.status_code == 200
    assert "Is my order on its way?" in thread.content.decode()
    assert '<span class="badge released">released</span>' in thread.content.decode()
    assert "Released" in client.get(world.get_absolute_url()).content.decode()
    change = NumberChange.objects.get()
    assert (change.action, change.outcome, change.username) == ("release", "accepted", "ada")


def test_a_sync_after_the_release_keeps_the_released_row(world, client):
    release(client, world, OUR_DID)

    numbers_sync()

    assert Did.objects.get(pk=world.pk).released


def seed_faulting_once(share: float) -> int:
    return next(
        s
        for s in range(1000)
        if (r := random.Random(s)).random() < share and r.random() >= share  # noqa: S311
    )


@pytest.mark.django_db(transaction=True)
def test_a_timeout_on_release_is_settled_by_reading_the_number_again(world, client, settings):
    settings.CARRIERX_TIMEOUT = (1.0, 1.0)
    faults_update(
        {
            "timeout_after": 0.5,
            "timeout_seconds": 1.5,
            "apply_to": "all",
            "seed": seed_faulting_once(0.5),
        }
    )

    answer = release(client, world, OUR_DID)

    assert answer.status_code == 302
    assert SandboxDid.objects.get(did_sid=world.did_sid).status == "aging"
    assert Did.objects.get(pk=world.pk).released
    assert "re-reading: no longer ours" in NumberChange.objects.get().carrier_answer


def test_a_5xx_on_release_leaves_the_number_ours_here_and_there(world, client):
    faults_update({"error_before": 0.5, "apply_to": "all", "seed": seed_faulting_once(0.5)})

    page = release(client, world, OUR_DID)

    assert page.status_code == 422
    assert "still ours" in page.content.decode()
    assert SandboxDid.objects.get(did_sid=world.did_sid).status == "assigned"
    assert not Did.objects.get(pk=world.pk).released
    assert NumberChange.objects.get().outcome == "refused"
