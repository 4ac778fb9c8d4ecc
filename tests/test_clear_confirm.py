"""Clearing a callback URL asks first and says what stops working; clearing the partner's, which
cuts inbound for every number that follows it, also names how many and wants CLEAR typed.
Nothing reaches the carrier until the person confirms."""

from __future__ import annotations

import pytest
import requests
from django.urls import reverse

from phone_numbers.models import CallbackChange, Did, DidGroup
from phone_numbers.sync import numbers_sync
from sandbox.seed import PARTNER_SID
from tests.conftest import sandbox_auth

MAIN_LINE = "15162065575"
OWN_URL = "https://hooks.example.com/main-line"
QUESTION = "Clear the SMS Callback URL?"


def carrier_get(live_server, path: str) -> dict:
    response = requests.get(
        f"{live_server.url}/sandbox/core/v2/{path}", headers=sandbox_auth(), timeout=10
    )
    response.raise_for_status()
    return response.json()


@pytest.fixture
def did(sandbox, admin_client_) -> Did:
    numbers_sync()
    did = Did.objects.get(phonenumber=MAIN_LINE)
    admin_client_.post(
        reverse("numbers:did_callback", args=[did.did_sid]), {"callback_url": OWN_URL}
    )
    return did


def did_edit(did: Did) -> str:
    return reverse("numbers:did_callback", args=[did.did_sid])


def partner_sms(live_server) -> str | None:
    return carrier_get(live_server, f"partners/{PARTNER_SID}")["callbacks"].get("sms")


def test_clear_on_a_did_asks_first_saying_where_its_texts_go_and_changes_nothing(
    did, admin_client_, live_server, settings
):
    response = admin_client_.post(did_edit(did), {"action": "clear"})

    page = response.content.decode()
    assert response.status_code == 200
    assert QUESTION in page
    webhook = live_server.url + reverse("webhook", args=[settings.CARRIERX_WEBHOOK_SECRET])
    assert "+1 516-206-5575 loses its own SMS Callback URL" in page
    assert f"CarrierX will send them to the partner&#x27;s URL instead, {webhook}" in page
    assert 'name="confirm" value="yes"' in page
    assert carrier_get(live_server, f"phonenumber/dids/{did.did_sid}")["callback_url"] == OWN_URL
    assert CallbackChange.objects.count() == 1  # only the save in the fixture


def test_saving_an_empty_field_asks_the_same_question(did, admin_client_, live_server):
    response = admin_client_.post(did_edit(did), {"callback_url": ""})

    assert QUESTION in response.content.decode()
    assert carrier_get(live_server, f"phonenumber/dids/{did.did_sid}")["callback_url"] == OWN_URL


def test_a_confirmed_clear_on_a_did_clears_it_at_the_carrier(did, admin_client_, live_server):
    response = admin_client_.post(did_edit(did), {"action": "clear", "confirm": "yes"})

    assert response.status_code == 302
    assert carrier_get(live_server, f"phonenumber/dids/{did.did_sid}")["callback_url"] is None
    did.refresh_from_db()
    assert did.callback_url == ""


def test_the_htmx_clear_swaps_the_question_into_the_panel(did, admin_client_):
    response = admin_client_.post(did_edit(did), {"action": "clear"}, HTTP_HX_REQUEST="true")

    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<section class="card" id="callback-panel">')
    assert "<html" not in html
    assert QUESTION in html
    assert f'hx-post="{did_edit(did)}"' in html
    assert "hx-confirm" not in html and "<script" not in html and "onclick" not in html


def test_clearing_a_group_says_how_many_numbers_fall_back_to_the_partner(
    did, admin_client_, live_server
):
    group = DidGroup.objects.get(name="Support")
    edit = reverse("numbers:group_callback", args=[group.did_group_sid])
    admin_client_.post(edit, {"callback_url": "https://hooks.example.com/support"})

    page = admin_client_.post(edit, {"action": "clear"}).content.decode()

    assert "3 SMS numbers in this group use the group&#x27;s URL." in page
    group_at_carrier = carrier_get(live_server, f"phonenumber/did_groups/{group.did_group_sid}")
    assert group_at_carrier["callback_url"] == "https://hooks.example.com/support"


def test_the_partner_page_states_how_many_numbers_use_its_callback(did, admin_client_):
    page = admin_client_.get(reverse("numbers:partner_callbacks")).content.decode()
    # Twelve DIDs: two are voice-only, and the main line has its own URL.
    assert '<strong data-field="following-partner">9 SMS numbers</strong> use it now' in page


def test_clear_on_the_partner_names_how_many_numbers_lose_their_callback_and_wants_a_word(
    did, admin_client_, live_server
):
    before = partner_sms(live_server)

    page = admin_client_.post(reverse("numbers:partner_callback"), {"action": "clear"})

    html = page.content.decode()
    assert QUESTION in html
    assert "9 SMS numbers with no SMS Callback URL of their own or from a DID Group will lose" in (
        html
    )
    assert "Type CLEAR to confirm" in html
    assert partner_sms(live_server) == before


@pytest.mark.parametrize("typed", ["", "clear it", "CLEA"])
def test_the_partner_clear_without_the_word_changes_nothing(did, admin_client_, live_server, typed):
    before = partner_sms(live_server)

    response = admin_client_.post(
        reverse("numbers:partner_callback"),
        {"action": "clear", "confirm": "yes", "confirm_word": typed},
    )

    assert response.status_code == 422
    assert "Type CLEAR to confirm; nothing was changed." in response.content.decode()
    assert partner_sms(live_server) == before
    assert not CallbackChange.objects.filter(object_kind="partner").exists()


def test_the_partner_clear_with_the_word_clears_it_at_the_carrier(did, admin_client_, live_server):
    response = admin_client_.post(
        reverse("numbers:partner_callback"),
        {"action": "clear", "confirm": "yes", "confirm_word": "CLEAR"},
    )

    assert response.status_code == 302
    assert partner_sms(live_server) is None
    assert CallbackChange.objects.filter(object_kind="partner", new_value="").exists()
