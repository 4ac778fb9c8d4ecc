"""Per-user DIDs: admins limit which of our DIDs a person may send from, in every send path."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from messaging.models import Message, SenderProfile
from phone_numbers.models import Did
from tests.conftest import load_fixture, make_user

pytestmark = pytest.mark.django_db
MAIN, SUPPORT, SALES = "15162065575", "15162065320", "15162065576"
CUSTOMER = "15162065319"


@pytest.fixture
def dids():
    return {
        n: Did.objects.create(did_sid=n, phonenumber=n, active_capabilities=7, capabilities=7)
        for n in (MAIN, SUPPORT, SALES)
    }


@pytest.fixture
def limited(client, dids):
    """Sam may send from Support and Sales only; Support is his default."""
    user = make_user("sam", "Senders", "Inbox staff")
    profile = SenderProfile.objects.create(user=user, default_did=dids[SUPPORT])
    profile.allowed_dids.set([dids[SUPPORT], dids[SALES]])
    client.force_login(user)
    return client


def test_the_dropdown_offers_only_the_users_dids_with_the_default_preselected(limited):
    page = limited.get("/messaging/").content.decode()
    assert f'<option value="{SUPPORT}" selected>' in page
    assert f'value="{SALES}"' in page
    assert f'value="{MAIN}"' not in page


def test_posting_a_did_the_user_may_not_use_is_refused_by_the_view(limited):
    response = limited.post("/messaging/", {"from_did": MAIN, "to_did": CUSTOMER, "message": "x"})
    assert response.status_code == 422
    assert f"{MAIN} is not one of our SMS numbers" in response.content.decode()
    assert not Message.objects.exists()


def test_a_user_without_limits_may_send_from_every_sms_did(client, dids):
    client.force_login(make_user("ann", "Senders"))
    page = client.get("/messaging/").content.decode()
    for number in (MAIN, SUPPORT, SALES):
        assert f'value="{number}"' in page


def test_replies_are_limited_too_and_default_to_an_allowed_did(limited, webhook_url):
    # Sam sees the conversation through its text to Sales; the customer then wrote to Main.
    for sid, did in (("in-0", SALES), ("in-1", MAIN)):
        payload = load_fixture("inbound_legacy")
        payload.update(message_sid=sid, from_did=CUSTOMER, to_did=did)
        Client().post(webhook_url, json.dumps(payload), content_type="application/json")

    page = limited.get(reverse("messaging:conversation", args=[CUSTOMER]))
    # The customer last wrote to Main, which Sam may not use: his own default is chosen instead.
    assert page.context["form"].initial["from_did"] == SUPPORT
    refused = limited.post(
        reverse("messaging:reply", args=[CUSTOMER]), {"from_did": MAIN, "message": "hi"}
    )
    assert refused.status_code == 422
    allowed = limited.post(
        reverse("messaging:reply", args=[CUSTOMER]), {"from_did": SALES, "message": "hi"}
    )
    assert allowed.status_code == 302
    assert Message.objects.get(direction="outbound").our_number == SALES


def test_an_admin_sets_a_users_dids_on_the_user_page(admin_client, dids):
    user = make_user("sam", "Senders")
    page = admin_client.get(reverse("admin:auth_user_change", args=[user.pk]))
    html = page.content.decode()
    assert "Sending DIDs" in html
    assert 'name="sender_profile-0-allowed_dids"' in html
    assert 'name="sender_profile-0-default_did"' in html
