"""The sandbox rents numbers as the carrier does (CARRIERX-MORE.md §1–3): the inventory and its
filters, coverage, rent, release and aging, messaging enablement and its callback, over real HTTP
with the sandbox's Bearer token. The choices the docs leave open are in sandbox/README.md."""

from __future__ import annotations

import math

import pytest
import requests
from django.conf import settings

from sandbox.inventory import AREAS, PER_AREA, inventory_rows
from sandbox.models import SandboxDid
from sandbox.seed import PARTNER_SID
from tests.conftest import run_tasks

pytest_plugins = ["tests.callback_sink"]
pytestmark = pytest.mark.django_db(transaction=True)

MAIN_LINE = "15162065575"
VOICE_ONLY = "15162065581"
HANDSET = "15162065574"
SEND_SMS = 2


@pytest.fixture
def api(sandbox):
    """`api(method, path, json=…, params=…)` against the sandbox's Core API, with its token."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {settings.CARRIERX_TOKEN}"
    base = settings.CARRIERX_API_URL

    def call(method: str, path: str, **kwargs) -> requests.Response:
        return session.request(method, base + path, timeout=10, **kwargs)

    yield call
    session.close()


@pytest.fixture
def numbers_sink(api, callback_sink):
    """The partner's number callbacks point at a sink the sandbox may call."""
    response = api(
        "PATCH",
        f"/partners/{PARTNER_SID}",
        json={
            "callbacks": {
                "phonenumber_messaging_update": callback_sink.url + "/messaging",
                "phonenumber_order": callback_sink.url + "/order",
            }
        },
    )
    assert response.status_code == 200, response.text
    return callback_sink


def available(api, filter_: str = "", **params) -> list[dict]:
    response = api(
        "GET", "/phonenumber/available_dids", params={"filter": filter_, "limit": 1000, **params}
    )
    assert response.status_code == 200, response.text
    return response.json()["items"]


def partner_numbers(api) -> list[str]:
    response = api("GET", "/phonenumber/dids", params={"limit": 1000})
    return [item["phonenumber"] for item in response.json()["items"]]


def rent(api, body: dict, **params) -> requests.Response:
    return api("POST", "/phonenumber/dids", json=body, params=params)


def snapshot() -> list[tuple]:
    return list(
        SandboxDid.objects.order_by("pk").values_list(
            "phonenumber", "status", "partner_id", "active_capabilities", "messaging_status"
        )
    )


def a_number_with(api, capabilities: int) -> str:
    return available(api, f"capabilities eq {capabilities}")[0]["phonenumber"]


# --- The inventory --------------------------------------------------------------------------------


def test_the_inventory_is_the_same_few_hundred_numbers_on_every_run(api):
    rows = inventory_rows()
    assert rows == inventory_rows()
    assert len({row["phonenumber"] for row in rows}) == len(AREAS) * PER_AREA == 300
    assert {row["state"] for row in rows} == {"NY", "CA", "IL", "TX", "FL", "WA"}
    listed = available(api)
    assert len(listed) == 300
    for item in listed:
        assert item["status"] == "available"
        assert item["partner_sid"] is None
        assert item["locality"] and item["state"] and item["price"]
        assert item["active_capabilities"] == item["capabilities"] & 4


def test_searching_by_state_returns_only_numbers_in_that_state(api):
    found = available(api, 'state eq "TX"')
    assert len(found) == 60
    assert all(item["state"] == "TX" for item in found)


def test_searching_by_area_code_returns_only_numbers_of_that_npa(api):
    found = available(api, "npa eq 415 and country_code eq USA")
    assert len(found) == PER_AREA
    assert all(item["phonenumber"].startswith("1415") for item in found)
    assert all(item["locality"] == "SAN FRANCISCO" for item in found)


def test_searching_for_sms_capability_returns_only_numbers_with_that_bit(api):
    found = available(api, "capabilities bit 2 and state eq NY")
    assert found
    assert all(item["capabilities"] & SEND_SMS and item["state"] == "NY" for item in found)
    voice = available(api, "capabilities eq 4 and state eq NY")
    assert voice and not {i["phonenumber"] for i in voice} & {i["phonenumber"] for i in found}


def test_searching_by_part_of_the_number_uses_like(api):
    found = available(api, 'phonenumber like "1312%"')
    assert len(found) == PER_AREA
    assert all(item["phonenumber"].startswith("1312") for item in found)


def test_searching_near_a_point_returns_numbers_nearby_nearest_first(api):
    chicago = (41.8781, -87.6298)
    found = available(api, f"phonenumber nearby latlng:{chicago[0]},{chicago[1]}")
    assert len(found) == PER_AREA
    assert all(item["locality"] == "CHICAGO" for item in found)
    stored = dict(
        SandboxDid.objects.filter(phonenumber__in=[i["phonenumber"] for i in found]).values_list(
            "phonenumber", "latitude"
        )
    )
    longitudes = dict(SandboxDid.objects.values_list("phonenumber", "longitude"))

    def km(number: str) -> float:
        d_lat = stored[number] - chicago[0]
        d_lng = (longitudes[number] - chicago[1]) * math.cos(math.radians(chicago[0]))
        return 111.2 * math.hypot(d_lat, d_lng)

    distances = [km(item["phonenumber"]) for item in found]
    assert distances == sorted(distances)
    assert max(distances) <= 100
    assert available(api, "phonenumber nearby latlng:0,0") == []  # nothing in the ocean


def test_the_available_list_has_no_total_and_pages_with_limit_and_offset(api):
    first = api("GET", "/phonenumber/available_dids", params={"limit": 7}).json()
    second = api("GET", "/phonenumber/available_dids", params={"limit": 7, "offset": 7}).json()
    assert first["total"] is None
    assert (first["count"], first["has_more"], first["limit"], first["offset"]) == (7, True, 7, 0)
    assert "offset=7" in first["pagination"]["next"]
    assert not {i["did_sid"] for i in first["items"]} & {i["did_sid"] for i in second["items"]}
    last = api("GET", "/phonenumber/available_dids", params={"limit": 10, "offset": 295}).json()
    assert (last["count"], last["has_more"], "next" in last["pagination"]) == (5, False, False)


def test_a_bad_filter_is_the_carriers_400(api):
    for bad in ("phonenumber nearby latlng:91,0", "capabilities bit 3", "npa eq", "lata eq 1"):
        response = api("GET", "/phonenumber/available_dids", params={"filter": bad})
        assert response.status_code == 400, bad
        assert response.json()["errors"][0]["field"] == "filter"


def test_coverage_by_state_counts_the_inventory(api):
    response = api("GET", "/phonenumber/coverage", params={"group_by": "state"})
    assert response.status_code == 200
    body = response.json()
    expected: dict[str, int] = {}
    for row in inventory_rows():
        expected[row["state"]] = expected.get(row["state"], 0) + 1
    assert {item["key"]: item["count"] for item in body["items"]} == expected
    assert body["total"] == len(expected)
    sms = api(
        "GET", "/phonenumber/coverage", params={"group_by": "npa", "filter": "capabilities bit 2"}
    ).json()
    counted = {item["key"]: item["count"] for item in sms["items"]}
    assert counted["516"] == sum(
        1
        for row in inventory_rows()
        if row["phonenumber"][1:4] == "516" and row["capabilities"] & 2
    )
    assert api("GET", "/phonenumber/coverage").status_code == 400  # group_by is required


# --- Renting --------------------------------------------------------------------------------------


def test_renting_with_an_empty_body_assigns_the_first_available_number(api):
    first = available(api, limit=1)[0]
    response = rent(api, {})
    assert response.status_code == 200, response.text
    did = response.json()
    assert did["phonenumber"] == first["phonenumber"]
    assert (did["status"], did["partner_sid"]) == ("assigned", PARTNER_SID)
    assert did["active_capabilities"] == did["capabilities"] & 4
    assert did["phonenumber"] in partner_numbers(api)
    assert did["phonenumber"] not in {i["phonenumber"] for i in available(api)}


def test_renting_by_number_lists_it_and_takes_it_out_of_the_inventory(api):
    number = a_number_with(api, 31)
    response = rent(api, {"phonenumber": number, "name": "New line"})
    assert response.status_code == 200, response.text
    did = response.json()
    assert (did["phonenumber"], did["status"], did["name"]) == (number, "assigned", "New line")
    assert (did["capabilities"], did["active_capabilities"]) == (31, 4)
    assert number in partner_numbers(api)
    assert number not in {i["phonenumber"] for i in available(api)}
    got = api("GET", f"/phonenumber/dids/{did['did_sid']}").json()
    assert got["status"] == "assigned"


def test_renting_with_a_filter_rents_the_first_match(api):
    response = rent(api, {}, filter="state eq WA and capabilities bit 2")
    assert response.status_code == 200
    assert response.json()["state"] == "WA" and response.json()["capabilities"] & 2
    nearest = available(api, "phonenumber nearby latlng:25.7617,-80.1918", limit=1)[0]
    near_miami = rent(api, {}, filter="phonenumber nearby latlng:25.7617,-80.1918").json()
    assert near_miami["phonenumber"] == nearest["phonenumber"]


def test_renting_a_taken_number_is_a_409_and_changes_nothing(api):
    before = snapshot()
    response = rent(api, {"phonenumber": MAIN_LINE})
    assert response.status_code == 409
    body = response.json()
    assert body["errors"][0]["field"] == "phonenumber"
    assert body["errors"][0]["reference_sid"] is None
    assert "rented" in body["errors"][0]["message"]
    assert snapshot() == before


def test_renting_an_unknown_number_or_a_bad_body_is_a_422_and_changes_nothing(api):
    before = snapshot()
    for body in (
        {"phonenumber": "19995550100"},
        {"phonenumber": 15162065575},
        {"name": 5},
        {"no_such_field": 1},
    ):
        response = rent(api, body)
        assert response.status_code == 422, body
        assert response.json()["message"] == "object validation error"
    assert snapshot() == before


def test_a_500_before_renting_rents_nothing(api):
    control = settings.CARRIERX_API_URL.replace("/core/v2", "/control")
    headers = {"Authorization": f"Bearer {settings.CARRIERX_TOKEN}"}
    assert (
        requests.patch(
            control, json={"error_before": 1, "apply_to": "all"}, headers=headers, timeout=10
        ).status_code
        == 200
    )
    before = snapshot()
    assert rent(api, {}).status_code == 500
    assert rent(api, {"phonenumber": a_number_with_db(31)}).status_code == 500
    assert snapshot() == before
    requests.delete(control, headers=headers, timeout=10)
    assert rent(api, {}).status_code == 200


def a_number_with_db(capabilities: int) -> str:
    return (
        SandboxDid.objects.filter(status="available", capabilities=capabilities).first().phonenumber
    )


def test_renting_with_include_external_calls_back_phonenumber_order(api, numbers_sink):
    did = rent(api, {}, include_external="true").json()
    rent(api, {})  # an ordinary rent: no order callback
    run_tasks()
    assert numbers_sink.bodies("/order") == [did]


# --- Releasing ------------------------------------------------------------------------------------


def test_releasing_answers_204_and_the_number_ages_out_of_sight(api):
    did = rent(api, {"phonenumber": a_number_with(api, 7)}).json()
    response = api("DELETE", f"/phonenumber/dids/{did['did_sid']}")
    assert (response.status_code, response.content) == (204, b"")
    stored = SandboxDid.objects.get(did_sid=did["did_sid"])
    assert (stored.status, stored.partner_id, stored.released_at is not None) == (
        "aging",
        None,
        True,
    )
    assert did["phonenumber"] not in partner_numbers(api)
    assert did["phonenumber"] not in {i["phonenumber"] for i in available(api)}
    assert api("GET", f"/phonenumber/dids/{did['did_sid']}").status_code == 404
    again = rent(api, {"phonenumber": did["phonenumber"]})
    assert again.status_code == 409
    assert "aging" in again.json()["errors"][0]["message"]


def test_a_released_number_is_rentable_again_after_the_aging_period(api, settings):
    did = rent(api, {"phonenumber": a_number_with(api, 7), "name": "Old name"}).json()
    api("DELETE", f"/phonenumber/dids/{did['did_sid']}")
    settings.SANDBOX_AGING_DAYS = 0
    assert did["phonenumber"] in {i["phonenumber"] for i in available(api)}
    again = rent(api, {"phonenumber": did["phonenumber"]}).json()
    assert (again["status"], again["name"], again["callback_url"]) == ("assigned", "N/A", None)


# --- Renaming -------------------------------------------------------------------------------------


def test_patch_sets_the_name_and_attributes_of_a_rented_number(api):
    did = rent(api, {}).json()
    response = api(
        "PATCH",
        f"/phonenumber/dids/{did['did_sid']}",
        json={"name": "Front desk", "attributes": {"team": "support"}},
    )
    assert response.status_code == 200
    assert (response.json()["name"], response.json()["attributes"]) == (
        "Front desk",
        {"team": "support"},
    )
    stored = SandboxDid.objects.get(did_sid=did["did_sid"])
    assert (stored.name, stored.attributes) == ("Front desk", {"team": "support"})


# --- Messaging enablement -------------------------------------------------------------------------


def enable(api, sid: str, body: dict, **params) -> requests.Response:
    return api("POST", f"/phonenumber/dids/{sid}/messaging", json=body, params=params)


def test_enabling_goes_in_progress_then_enabled_and_calls_the_partner_back(api, numbers_sink):
    did = rent(api, {"phonenumber": a_number_with(api, 31)}).json()
    campaign = "fef13cdd-2f65-4ed8-8272-de2a940d0cb5"
    response = enable(
        api, did["did_sid"], {"enabled": True, "type": "a2p", "campaign_sid": campaign}
    )
    assert response.status_code == 200, response.text
    started = response.json()
    assert (started["status"], started["enabled"], started["type"]) == ("in_progress", True, "a2p")
    assert started["campaign_sid"] == campaign
    assert numbers_sink.bodies("/messaging") == []  # nothing fires inside the request

    run_tasks()

    done = api("GET", f"/phonenumber/dids/{did['did_sid']}/messaging").json()
    assert (done["status"], done["enabled"], done["status_reason"]) == ("enabled", True, None)
    assert done["campaign_external_id"].startswith("C")
    number = api("GET", f"/phonenumber/dids/{did['did_sid']}").json()
    assert (number["active_capabilities"], number["campaign_sid"]) == (31, campaign)
    assert numbers_sink.bodies("/messaging") == [done]
    sent = api(
        "POST", "/sms/messages", json={"from": did["phonenumber"], "to": HANDSET, "message": "hi"}
    )
    assert sent.status_code == 200


def test_a_rejected_campaign_ends_failed_with_the_reason(api, numbers_sink):
    did = rent(api, {"phonenumber": a_number_with(api, 7)}).json()
    enable(api, did["did_sid"], {"enabled": True, "campaign_sid": "rejected-spam"})
    run_tasks()
    failed = api("GET", f"/phonenumber/dids/{did['did_sid']}/messaging").json()
    assert (failed["status"], failed["type"]) == ("failed", "a2p")
    assert "rejected-spam was rejected" in failed["status_reason"]
    assert api("GET", f"/phonenumber/dids/{did['did_sid']}").json()["active_capabilities"] == 4
    assert numbers_sink.bodies("/messaging") == [failed]


def test_disabling_stops_texting_at_once_and_ends_disabled(api, numbers_sink):
    sid = SandboxDid.objects.get(phonenumber=MAIN_LINE).did_sid
    assert api("GET", f"/phonenumber/dids/{sid}/messaging").json()["status"] == "enabled"
    response = enable(api, sid, {"enabled": False})
    assert (response.json()["status"], response.json()["enabled"]) == ("in_progress", False)
    refused = api("POST", "/sms/messages", json={"from": MAIN_LINE, "to": HANDSET, "message": "x"})
    assert refused.status_code == 422
    run_tasks()
    done = api("GET", f"/phonenumber/dids/{sid}/messaging").json()
    assert done["status"] == "disabled"
    assert api("GET", f"/phonenumber/dids/{sid}").json()["active_capabilities"] == 4
    assert numbers_sink.bodies("/messaging") == [done]


def test_changing_the_campaign_of_enabled_messaging_needs_force(api):
    sid = SandboxDid.objects.get(phonenumber=MAIN_LINE).did_sid
    body = {"enabled": True, "type": "a2p", "campaign_sid": "c-2"}
    refused = enable(api, sid, body)
    assert refused.status_code == 409
    assert "force" in refused.json()["errors"][0]["message"]
    assert SandboxDid.objects.get(did_sid=sid).campaign_sid is None
    forced = enable(api, sid, body, force="true")
    assert (forced.status_code, forced.json()["status"]) == (200, "in_progress")
    assert forced.json()["campaign_sid"] == "c-2"


def test_a_bad_enablement_body_is_a_422_and_changes_nothing(api):
    did = rent(api, {"phonenumber": a_number_with(api, 31)}).json()
    for body in (
        {},
        {"enabled": "yes"},
        {"enabled": True, "type": "x"},
        {"enabled": True, "type": "p2p", "campaign_sid": "c"},
        {"enabled": True, "colour": "red"},
    ):
        response = enable(api, did["did_sid"], body)
        assert response.status_code == 422, body
    stored = SandboxDid.objects.get(did_sid=did["did_sid"])
    assert (stored.messaging_status, stored.messaging_revision) == ("disabled", 1)


def test_a_voice_only_did_has_no_messaging_enablement(api):
    sid = SandboxDid.objects.get(phonenumber=VOICE_ONLY).did_sid
    for response in (
        api("GET", f"/phonenumber/dids/{sid}/messaging"),
        enable(api, sid, {"enabled": True}),
    ):
        assert response.status_code == 404
        assert response.json() == {
            "message": "no item error",
            "errors": [
                {"field": None, "message": "cannot find item by sid", "reference_sid": None}
            ],
        }


def test_a_send_from_a_rented_number_without_messaging_is_refused_with_the_reason(api):
    did = rent(api, {"phonenumber": a_number_with(api, 31)}).json()
    response = api(
        "POST", "/sms/messages", json={"from": did["phonenumber"], "to": HANDSET, "message": "hi"}
    )
    assert response.status_code == 422
    error = response.json()["errors"][0]
    assert error["field"] == "from"
    assert "messaging is not enabled" in error["message"]


def test_the_seeded_texting_dids_start_with_messaging_enabled(api):
    for did in SandboxDid.objects.filter(partner__isnull=False, capabilities=7):
        got = api("GET", f"/phonenumber/dids/{did.did_sid}/messaging").json()
        assert (got["enabled"], got["status"], got["type"]) == (True, "enabled", "a2p")
