"""Numbers as people type them into To DID: extensions refused, our own DIDs refused (send and
reply), one wording for anything that is not a number, and a vanity number's digits shown before
anything is queued."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from messaging.models import Conversation, Message
from phone_numbers.models import Did
from portal.phones import normalize_number
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

MAIN_LINE = "15162065575"
INBOUND_LINE = "15162065318"
SEND = "/messaging/"


@pytest.fixture(autouse=True)
def dids():
    Did.objects.create(
        did_sid="d1", phonenumber=MAIN_LINE, name="Main line", capabilities=7, active_capabilities=7
    )
    Did.objects.create(
        did_sid="d2",
        phonenumber=INBOUND_LINE,
        name="Inbound line",
        capabilities=7,
        active_capabilities=7,
    )


@pytest.fixture
def sender() -> Client:
    client = Client()
    client.force_login(make_user("sam", "Senders", "Inbox staff"))
    return client


def send(client: Client, to: str, **extra: str):
    data = {"from_did": MAIN_LINE, "to_did": to, "message": "Hello", **extra}
    return client.post(SEND, data)


def test_a_number_with_an_extension_is_refused_and_nothing_is_queued(sender):
    response = send(sender, "+1 (212) 555-0142 ext 3")
    assert response.status_code == 422
    page = response.content.decode()
    assert "has an extension (3); a text cannot reach an extension." in page
    assert not Message.objects.exists()


def test_one_of_our_own_dids_is_refused_as_to_did(sender):
    response = send(sender, "+1 516-206-5318")
    assert response.status_code == 422
    page = response.content.decode()
    assert "Not sent: +1 516-206-5318 is one of our own DIDs (Inbound line)" in page
    assert page.count("is one of our own DIDs") == 1
    assert not Message.objects.exists()


def test_a_number_we_released_is_no_longer_refused_as_our_own(sender):
    Did.objects.filter(phonenumber=INBOUND_LINE).update(released_at=timezone.now())
    assert send(sender, "+1 516-206-5318").status_code == 302
    assert Message.objects.get().their_number == INBOUND_LINE


def test_a_reply_to_a_conversation_with_one_of_our_own_dids_is_refused(sender):
    Conversation.objects.create(customer_number=INBOUND_LINE, last_activity_at=timezone.now())
    url = reverse("messaging:reply", args=[INBOUND_LINE])
    for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
        page = sender.post(url, {"from_did": MAIN_LINE, "message": "Hi"}, **headers)
        text = page.content.decode()
        assert "is one of our own DIDs (Inbound line)" in text, headers
        assert "no reply can be sent to this conversation" in text, headers
    assert not Message.objects.exists()


@pytest.mark.parametrize("typed", ["123", "abc"])
def test_anything_that_is_not_a_number_gets_one_wording(sender, typed):
    page = send(sender, typed).content.decode()
    assert (
        f"“{typed}” is not a phone number. Type it with its country or area code, "
        "like +1 212-555-0142."
    ) in page
    assert "not a valid phone number" not in page


def test_a_vanity_number_shows_its_digits_and_nothing_is_queued_until_confirmed(sender):
    first = send(sender, "1-800-FLOWERS")
    assert first.status_code == 422
    page = first.content.decode()
    assert "1-800-FLOWERS is +1 800-356-9377." in page
    assert '<input type="hidden" name="confirm_to" value="18003569377">' in page
    assert not Message.objects.exists()

    confirmed = send(sender, "1-800-FLOWERS", confirm_to="18003569377")
    assert confirmed.status_code == 302
    assert Message.objects.get().their_number == "18003569377"


def test_a_vanity_number_changed_after_the_confirmation_is_asked_about_again(sender):
    response = send(sender, "1-800-GOFEDEX", confirm_to="18003569377")
    assert response.status_code == 422
    assert "1-800-GOFEDEX is +1 800-463-3339." in response.content.decode()
    assert not Message.objects.exists()


def test_a_number_typed_in_digits_needs_no_confirmation(sender):
    assert send(sender, "+1 (212) 555-0142").status_code == 302
    assert Message.objects.get().their_number == "12125550142"


def test_the_to_did_placeholder_is_not_one_of_our_numbers(sender):
    page = sender.get(SEND).content.decode()
    assert 'placeholder="+1 212-555-0142"' in page
    placeholder = page.split('placeholder="', 1)[1].split('"', 1)[0]
    assert not Did.objects.filter(phonenumber=normalize_number(placeholder)).exists()
