"""The client's number calls (inventory, coverage, rent, release, messaging enablement, rename),
mocked only at the HTTP seam: what each sends, and what it makes of the carrier's answer."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from portal.carrierx import CarrierXClient, CarrierXError, available_filter

BASE = "https://api.carrierx.com/core/v2"
DIDS_URL = f"{BASE}/phonenumber/dids"
AVAILABLE_URL = f"{BASE}/phonenumber/available_dids"
DID_SID = "f448e2c3-88c1-4cd1-8cf2-3567c16e0794"
RENTED = {
    "active_capabilities": 4,
    "capabilities": 31,
    "did_sid": DID_SID,
    "locality": "NEW YORK",
    "name": "N/A",
    "phonenumber": "15162065575",
    "price": "0.6",
    "state": "NY",
    "status": "assigned",
}
ENABLEMENT = {
    "campaign_external_id": None,
    "campaign_sid": "fef13cdd-2f65-4ed8-8272-de2a940d0cb5",
    "did_sid": DID_SID,
    "enabled": True,
    "p2p_nnid": None,
    "status": "in_progress",
    "type": "a2p",
}


@pytest.fixture
def carrier():
    with responses.RequestsMock() as mock:
        yield mock


@pytest.fixture
def api() -> CarrierXClient:
    return CarrierXClient(base_url=BASE, token="tok", timeout=(1, 2))


def query(call) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(call.request.url).query).items()}


def sent_json(call) -> dict:
    return json.loads(call.request.body)


def test_available_filter_joins_state_area_code_sms_bits_and_a_point_with_and():
    built = available_filter(
        country_code="USA", state="NY", npa="516", capability_bits=(1, 2), near=(40.7506, -73.9972)
    )

    assert built == (
        'country_code eq "USA" and state eq "NY" and npa eq 516 and capabilities bit 1 and '
        "capabilities bit 2 and phonenumber nearby latlng:40.7506,-73.9972"
    )


def test_available_filter_leaves_out_what_was_not_asked_and_quotes_cannot_break_out():
    assert available_filter() == ""
    assert available_filter(state='N"Y') == 'state eq "NY"'


def test_available_dids_asks_for_one_page_with_the_filter_limit_and_offset(carrier, api):
    carrier.get(
        AVAILABLE_URL,
        json={
            "count": 1,
            "has_more": True,
            "items": [RENTED],
            "limit": 1,
            "offset": 20,
            "pagination": {},
            "total": None,
        },
    )

    page = api.available_dids(filter='state eq "NY"', limit=1, offset=20)

    assert query(carrier.calls[0]) == {"filter": 'state eq "NY"', "limit": "1", "offset": "20"}
    assert page.items == [RENTED]
    assert page.has_more is True
    assert page.offset == 20


def test_an_inventory_page_without_has_more_has_more_only_when_it_is_full(carrier, api):
    carrier.get(AVAILABLE_URL, json={"items": [RENTED], "total": None})
    carrier.get(AVAILABLE_URL, json={"items": [RENTED, RENTED], "total": None})

    assert api.available_dids(limit=2).has_more is False
    assert api.available_dids(limit=2).has_more is True


def test_coverage_groups_by_state_and_follows_pagination(carrier, api):
    carrier.get(
        f"{BASE}/phonenumber/coverage",
        json={
            "count": 1,
            "items": [{"count": 81, "key": "IL"}],
            "pagination": {"next": f"{BASE}/phonenumber/coverage?group_by=state&offset=1"},
        },
    )
    carrier.get(
        f"{BASE}/phonenumber/coverage",
        json={"count": 1, "items": [{"count": 30, "key": "NY"}], "pagination": {}},
    )

    counts = api.coverage(group_by="state", filter="capabilities bit 2")

    assert counts == [{"count": 81, "key": "IL"}, {"count": 30, "key": "NY"}]
    assert query(carrier.calls[0])["group_by"] == "state"
    assert query(carrier.calls[0])["filter"] == "capabilities bit 2"


def test_rent_posts_the_number_and_callback_url_and_returns_the_assigned_did(carrier, api):
    carrier.post(DIDS_URL, json=RENTED)

    did = api.rent_did(phonenumber="15162065575", callback_url="https://portal.example/hook")

    assert sent_json(carrier.calls[0]) == {
        "phonenumber": "15162065575",
        "callback_url": "https://portal.example/hook",
    }
    assert did["status"] == "assigned"


def test_rent_without_a_number_posts_an_empty_object(carrier, api):
    carrier.post(DIDS_URL, json=RENTED)

    api.rent_did()

    assert sent_json(carrier.calls[0]) == {}


def test_renting_a_taken_number_raises_the_carriers_words_as_a_permanent_error(carrier, api):
    carrier.post(
        DIDS_URL,
        status=409,
        json={"message": "conflict", "errors": [{"field": "phonenumber", "message": "is rented"}]},
    )

    with pytest.raises(CarrierXError) as caught:
        api.rent_did(phonenumber="15162065575")

    assert caught.value.status == 409
    assert caught.value.permanent
    assert "phonenumber: is rented" in str(caught.value)


def test_release_sends_delete_and_accepts_204_with_no_body(carrier, api):
    carrier.delete(f"{DIDS_URL}/{DID_SID}", status=204)

    assert api.release_did(DID_SID) is None
    assert carrier.calls[0].request.method == "DELETE"


def test_get_messaging_reads_the_enablement_object(carrier, api):
    carrier.get(f"{DIDS_URL}/{DID_SID}/messaging", json={**ENABLEMENT, "status": "enabled"})

    assert api.get_messaging(DID_SID)["status"] == "enabled"


def test_enable_posts_enabled_type_and_campaign(carrier, api):
    carrier.post(f"{DIDS_URL}/{DID_SID}/messaging", json=ENABLEMENT)

    answer = api.set_messaging(
        DID_SID, enabled=True, type="a2p", campaign_sid=ENABLEMENT["campaign_sid"]
    )

    assert sent_json(carrier.calls[0]) == {
        "enabled": True,
        "type": "a2p",
        "campaign_sid": ENABLEMENT["campaign_sid"],
    }
    assert "force" not in query(carrier.calls[0])
    assert answer["status"] == "in_progress"


def test_disable_posts_enabled_false_only_and_force_goes_in_the_query(carrier, api):
    carrier.post(f"{DIDS_URL}/{DID_SID}/messaging", json={**ENABLEMENT, "enabled": False})
    carrier.post(f"{DIDS_URL}/{DID_SID}/messaging", json=ENABLEMENT)

    api.set_messaging(DID_SID, enabled=False)
    api.set_messaging(DID_SID, enabled=True, type="p2p", force=True)

    assert sent_json(carrier.calls[0]) == {"enabled": False}
    assert query(carrier.calls[1]) == {"force": "true"}


def test_rename_patches_only_the_name(carrier, api):
    carrier.patch(f"{DIDS_URL}/{DID_SID}", json={**RENTED, "name": "Main line"})

    did = api.rename_did(DID_SID, "Main line")

    assert carrier.calls[0].request.method == "PATCH"
    assert sent_json(carrier.calls[0]) == {"name": "Main line"}
    assert did["name"] == "Main line"
