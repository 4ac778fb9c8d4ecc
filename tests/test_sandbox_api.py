"""The sandbox's Core API v2 subset answers like the carrier: auth, errors, SMS, DIDs, DID groups,
partners, the list envelope, filter and order."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import requests
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from portal.carrierx import CarrierXClient, CarrierXError
from sandbox.models import SandboxDid, SandboxDidGroup, SandboxMessage, SandboxPartner
from sandbox.seed import PARTNER_SID, seed, seeded_sid
from sandbox.sms import message_segments
from tests.conftest import load_fixture

pytestmark = pytest.mark.django_db

ISO_UTC_MILLIS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
SUPPORT_SID = seeded_sid("did_group", "Support")
MAIN_LINE = "15162065575"
VOICE_ONLY = "15162065581"


@pytest.fixture
def partner(settings) -> SandboxPartner:
    settings.SANDBOX_STEP_SECONDS = 0
    return seed(sms_callback_url="https://portal.example.com/webhooks/carrierx/secret/")


@pytest.fixture
def api(client, settings):
    """Call the sandbox as the portal's client does: Bearer token, JSON bodies."""

    def call(method: str, name: str, *args: str, body=None, params=None, token=None, **extra):
        url = reverse(f"sandbox:{name}", args=args)
        extra["HTTP_AUTHORIZATION"] = "Bearer " + (token or settings.CARRIERX_TOKEN)
        if method == "get":
            return client.get(url, params or {}, **extra)
        if body is not None:
            extra["data"] = body if isinstance(body, str | bytes) else json.dumps(body)
            extra.setdefault("content_type", "application/json")
        return getattr(client, method)(url, **extra)

    return call


def did_sid(phonenumber: str) -> str:
    return SandboxDid.objects.get(phonenumber=phonenumber).did_sid


# --- Auth and errors ------------------------------------------------------------------------------

ROUTES = [
    ("get", "sms_messages", ()),
    ("post", "sms_messages", ()),
    ("get", "sms_message", ("097b49df-c54e-4eaf-97d0-89cf7d5a655b",)),
    ("get", "dids", ()),
    ("patch", "did", (seeded_sid("did", MAIN_LINE),)),
    ("get", "did_groups", ()),
    ("get", "did_group", (SUPPORT_SID,)),
    ("get", "partners", ()),
    ("patch", "partner", (PARTNER_SID,)),
]


@pytest.mark.parametrize(("method", "name", "args"), ROUTES)
def test_every_route_refuses_a_request_without_a_bearer_token(client, partner, method, name, args):
    response = getattr(client, method)(reverse(f"sandbox:{name}", args=args))
    assert response.status_code == 401
    body = response.json()
    assert body["message"] == "Bad credentials"
    assert body["errors"][0]["reference_sid"] is None


@pytest.mark.parametrize(("method", "name", "args"), ROUTES)
def test_every_route_refuses_a_wrong_token(api, partner, method, name, args):
    response = api(method, name, *args, token="not-the-token")
    assert response.status_code == 401
    assert response.json()["message"] == "Bad credentials"


@pytest.mark.parametrize("name", ["sms_message", "did", "did_group", "partner"])
def test_an_unknown_sid_answers_the_carriers_no_item_error(api, partner, name):
    response = api("get", name, "00000000-0000-0000-0000-000000000000")
    assert response.status_code == 404
    assert response.json() == load_fixture("error_404")


def test_a_method_the_route_does_not_serve_gets_a_405_in_the_carriers_shape(api, partner):
    # DELETE on a DID releases it (tests/test_sandbox_numbers_api.py); a DID group has none.
    response = api("delete", "did_group", SUPPORT_SID)
    assert response.status_code == 405
    assert response["Allow"] == "GET, PATCH"
    assert response.json()["errors"][0]["message"] == "use GET, PATCH"


# --- Sending --------------------------------------------------------------------------------------


def test_the_tutorials_send_request_is_answered_queued_with_legacy_names(api, partner):
    response = api("post", "sms_messages", body=load_fixture("send_request_legacy"))

    assert response.status_code == 200
    sms = response.json()
    assert set(load_fixture("send_response_legacy")) <= set(sms)
    assert "from" not in sms and "to" not in sms
    assert sms["from_did"] == MAIN_LINE
    assert sms["to_did"] == "15162065574"
    assert sms["message"] == "This is a test message"
    assert sms["status"] == "queued"
    assert sms["direction"] == "outbound"
    assert sms["price"] is None
    assert sms["date_status_changed"] is None
    assert sms["mcc"] is None and sms["mnc"] is None
    assert sms["message_segments"] == 1
    assert sms["partner_sid"] == PARTNER_SID
    assert sms["type"] == "sms"
    assert ISO_UTC_MILLIS.match(sms["date_created"])
    assert ISO_UTC_MILLIS.match(sms["date_changed"])


def test_a_sent_message_can_be_read_back_by_its_sid(api, partner):
    sent = api("post", "sms_messages", body=load_fixture("send_request_legacy")).json()

    response = api("get", "sms_message", sent["message_sid"])

    assert response.status_code == 200
    assert response.json() == sent


def test_sending_stores_the_message_and_leaves_its_progression_to_a_background_task(
    api, partner, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        sent = api("post", "sms_messages", body=load_fixture("send_request_legacy")).json()

    stored = SandboxMessage.objects.get(message_sid=sent["message_sid"])
    assert (stored.direction, stored.status) == ("outbound", "queued")
    assert (stored.from_number, stored.to_number) == (MAIN_LINE, "15162065574")
    task = DBTaskResult.objects.get()
    assert task.task_path == "sandbox.tasks.advance_message"
    assert task.args_kwargs["args"] == [sent["message_sid"], "queued"]


def test_the_current_naming_and_user_data_are_accepted_and_answered(api, partner):
    partner.field_naming = SandboxPartner.FieldNaming.CURRENT
    partner.save()
    body = {"from": MAIN_LINE, "to": "15162065574", "message": "Hi", "user_data": "order-17"}

    sms = api("post", "sms_messages", body=body).json()

    assert (sms["from"], sms["to"], sms["user_data"]) == (MAIN_LINE, "15162065574", "order-17")
    assert "from_did" not in sms and "to_did" not in sms


def error_fields(response) -> list:
    return [error["field"] for error in response.json()["errors"]]


def test_a_from_number_that_is_not_the_partners_is_refused(api, partner):
    body = {"from": "15162065574", "to": "15162065575", "message": "Hi"}
    response = api("post", "sms_messages", body=body)
    assert response.status_code == 422
    assert response.json()["message"] == "object validation error"
    assert response.json()["errors"] == [
        {
            "field": "from",
            "message": "15162065574 is not a DID of this partner",
            "reference_sid": None,
        }
    ]
    assert not SandboxMessage.objects.exists()


def test_a_voice_only_did_cannot_send_sms(api, partner):
    body = {"from": VOICE_ONLY, "to": "15162065574", "message": "Hi"}
    response = api("post", "sms_messages", body=body)
    assert response.status_code == 422
    assert error_fields(response) == ["from"]
    assert "cannot send SMS" in response.json()["errors"][0]["message"]


def test_every_missing_field_is_named(api, partner):
    response = api("post", "sms_messages", body={})
    assert response.status_code == 422
    assert error_fields(response) == ["from", "to", "message"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"to": "555-0100"}, "to"),
        ({"to": "+15162065574"}, "to"),
        ({"to": 15162065574}, "to"),
        ({"message": "   "}, "message"),
        ({"message": "x" * 1601}, "message"),
        ({"user_data": "x" * 1025}, "user_data"),
        ({"user_data": 7}, "user_data"),
        ({"media_urls": "https://example.com/cat.png"}, "media_urls"),
    ],
)
def test_an_invalid_field_is_refused_and_named(api, partner, changes, field):
    body = {"from": MAIN_LINE, "to": "15162065574", "message": "Hi", **changes}
    response = api("post", "sms_messages", body=body)
    assert response.status_code == 422
    assert error_fields(response) == [field]


def test_malformed_json_is_a_400(api, partner):
    response = api("post", "sms_messages", body='{"from": ')
    assert response.status_code == 400
    assert response.json()["message"] == "No JSON object could be decoded"


def test_a_json_body_that_is_not_an_object_is_a_400(api, partner):
    response = api("post", "sms_messages", body=json.dumps(["from", "to"]))
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"] == "send a JSON object"


def test_a_body_that_is_not_declared_json_is_a_415(api, partner):
    response = api(
        "post",
        "sms_messages",
        body="from=15162065575&to=15162065574&message=Hi",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 415
    assert response.json()["message"] == "Unsupported media type"


def test_nul_characters_are_refused_before_they_reach_the_database(api, partner):
    # PostgreSQL cannot store NUL in text; it must be a 400, never a 500.
    body = {"from": MAIN_LINE, "to": "15162065574", "message": "a\u0000b"}
    assert api("post", "sms_messages", body=body).status_code == 400
    patch = {"attributes": {"k\u0000": "v"}}
    assert api("patch", "did", did_sid(MAIN_LINE), body=patch).status_code == 400
    assert api("get", "dids", params={"filter": "name eq 'a\x00'"}).status_code == 400
    assert not SandboxMessage.objects.exists()


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("é" * 160, 1),  # in the GSM-7 alphabet
        ("€" * 80, 1),  # GSM-7 extension: two septets each
        ("€" * 81, 2),
        ("ж" * 70, 1),  # not GSM-7: UCS-2
        ("ж" * 71, 2),
        ("a" * 159 + "😀", 3),  # one emoji turns the whole text UCS-2 (two UTF-16 units)
    ],
)
def test_segments_follow_gsm7_and_ucs2_limits(text, segments):
    assert message_segments(text) == segments


def test_the_answer_carries_the_segment_count(api, partner):
    body = {"from": MAIN_LINE, "to": "15162065574", "message": "x" * 200}
    assert api("post", "sms_messages", body=body).json()["message_segments"] == 2


# --- Lists ----------------------------------------------------------------------------------------


def test_twelve_dids_take_two_pages_of_ten_linked_by_full_urls(api, partner):
    first = api("get", "dids").json()

    assert (first["count"], first["total"], first["limit"], first["offset"]) == (10, 12, 10, 0)
    assert first["has_more"] is True
    assert list(first["pagination"]) == ["next"]
    next_url = urlsplit(first["pagination"]["next"])
    assert (next_url.scheme, next_url.netloc) == ("http", "testserver")
    assert next_url.path == reverse("sandbox:dids")
    assert sorted(next_url.query.split("&")) == ["limit=10", "offset=10"]

    second = api("get", "dids", params=dict(p.split("=") for p in next_url.query.split("&"))).json()
    assert (second["count"], second["has_more"], second["offset"]) == (2, False, 10)
    assert list(second["pagination"]) == ["previous"]
    assert "offset=0" in second["pagination"]["previous"]
    numbers = [did["phonenumber"] for did in first["items"] + second["items"]]
    assert len(set(numbers)) == 12


def test_a_single_page_has_empty_pagination(api, partner):
    page = api("get", "did_groups").json()
    assert page["pagination"] == {}
    assert page["has_more"] is False
    assert page["items"] == [
        {
            "callback_url": None,
            "did_group_sid": SUPPORT_SID,
            "name": "Support",
            "partner_sid": PARTNER_SID,
        }
    ]


def test_a_did_is_written_as_the_carrier_writes_it(api, partner):
    did = api("get", "did", did_sid(MAIN_LINE)).json()
    assert set(did) == set(load_fixture("did"))
    assert did["phonenumber"] == MAIN_LINE
    assert did["in_country_format"] == "(516) 206-5575"
    assert did["international_format"] == "+1 516-206-5575"
    assert (did["capabilities"], did["active_capabilities"]) == (31, 31)
    assert (did["price"], did["status"], did["name"]) == ("0.6", "assigned", "Main line")


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "1001"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"filter": "nickname eq 'x'"}, "filter"),
        ({"filter": "name contains 'x'"}, "filter"),
        ({"filter": "name eq"}, "filter"),
        ({"filter": "name eq 'Billing' or name eq 'Sales 1'"}, "filter"),
        ({"filter": "capabilities like '7%'"}, "filter"),
        ({"order": "nickname desc"}, "order"),
        ({"order": "name sideways"}, "order"),
    ],
)
def test_bad_list_parameters_are_a_400_naming_the_parameter(api, partner, params, problem):
    response = api("get", "dids", params=params)
    assert response.status_code == 400
    assert error_fields(response) == [problem]


def test_unknown_query_parameters_are_ignored(api, partner):
    response = api("get", "dids", params={"with_related": "true", "include_fields": "name"})
    assert response.status_code == 200
    assert response.json()["total"] == 12


def numbers_of(page: dict) -> list[str]:
    return [did["phonenumber"] for did in page["items"]]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        (f'phonenumber eq "{MAIN_LINE}"', [MAIN_LINE]),
        (f"phonenumber eq {MAIN_LINE}", [MAIN_LINE]),
        ("name like 'Support%'", ["15162065320", "15162065321", "15162065322"]),
        (f"did_group_sid eq '{SUPPORT_SID}'", ["15162065320", "15162065321", "15162065322"]),
        ("name like 'Sales%' and phonenumber gt 15162065576", ["15162065577"]),
        ("name eq 'Front desk (voice)'", ["15162065581"]),
        ("callback_url ne null", []),
        ("capabilities lt 7", ["15162065581", "15162065582"]),
    ],
)
def test_dids_can_be_filtered(api, partner, expression, expected):
    response = api("get", "dids", params={"filter": expression})
    assert response.status_code == 200
    assert numbers_of(response.json()) == expected


def test_dids_can_be_ordered_either_way(api, partner):
    ascending = numbers_of(api("get", "dids", params={"order": "phonenumber", "limit": 50}).json())
    descending = numbers_of(
        api("get", "dids", params={"order": "phonenumber desc", "limit": 50}).json()
    )
    assert ascending == sorted(ascending)
    assert descending == list(reversed(ascending))


def test_messages_can_be_filtered_in_either_naming_and_ordered_newest_first(api, partner):
    for to in ("15162065574", "15162065599", "15162065574"):
        api("post", "sms_messages", body={"from": MAIN_LINE, "to": to, "message": f"to {to}"})

    for attr in ("to", "to_did"):
        page = api(
            "get",
            "sms_messages",
            params={"filter": f"{attr} eq '15162065574' and status eq queued"},
        ).json()
        assert page["total"] == 2
        assert {sms["to_did"] for sms in page["items"]} == {"15162065574"}

    newest = api("get", "sms_messages", params={"order": "date_created desc", "limit": 1}).json()
    assert newest["items"][0]["message"] == "to 15162065574"
    assert newest["items"][0]["message_sid"] == SandboxMessage.objects.last().message_sid
    assert (
        api("get", "sms_messages", params={"filter": "date_created ge 2020-01-01"}).json()["total"]
        == 3
    )


# --- Editing --------------------------------------------------------------------------------------


def test_patching_a_did_changes_only_the_keys_sent(api, partner):
    sid = did_sid(MAIN_LINE)
    response = api("patch", "did", sid, body={"callback_url": "https://example.com/sms"})

    assert response.status_code == 200
    did = response.json()
    assert did["callback_url"] == "https://example.com/sms"
    assert did["name"] == "Main line"
    assert SandboxDid.objects.get(did_sid=sid).callback_url == "https://example.com/sms"

    cleared = api("patch", "did", sid, body={"callback_url": None}).json()
    assert cleared["callback_url"] is None


def test_a_did_joins_and_leaves_a_group_and_keeps_its_other_fields(api, partner):
    sid = did_sid(MAIN_LINE)
    body = {"did_group_sid": SUPPORT_SID, "name": "Front", "string_key_1": "vip"}
    joined = api("patch", "did", sid, body=body).json()
    assert (joined["did_group_sid"], joined["name"], joined["string_key_1"]) == (
        SUPPORT_SID,
        "Front",
        "vip",
    )

    left = api("patch", "did", sid, body={"did_group_sid": None}).json()
    assert left["did_group_sid"] is None
    assert left["name"] == "Front"


def test_read_only_did_keys_are_ignored(api, partner):
    sid = did_sid(MAIN_LINE)
    did = api("patch", "did", sid, body={"phonenumber": "19999999999", "capabilities": 4}).json()
    assert (did["phonenumber"], did["capabilities"]) == (MAIN_LINE, 31)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"callback_url": "ftp://example.com/sms"}, "callback_url"),
        ({"callback_url": "not a url"}, "callback_url"),
        ({"callback_url": "https://"}, "callback_url"),
        ({"callback_url": "https://example.com:port/"}, "callback_url"),
        ({"callback_url": "https://example.com/" + "x" * 2048}, "callback_url"),
        ({"callback_url": 42}, "callback_url"),
        ({"did_group_sid": "00000000-0000-0000-0000-000000000000"}, "did_group_sid"),
        ({"attributes": ["a"]}, "attributes"),
        ({"nickname": "x"}, "nickname"),
    ],
)
def test_a_bad_did_patch_is_refused_and_changes_nothing(api, partner, body, field):
    sid = did_sid(MAIN_LINE)
    response = api("patch", "did", sid, body={"name": "Changed", **body})
    assert response.status_code == 422
    assert error_fields(response) == [field]
    assert SandboxDid.objects.get(did_sid=sid).name == "Main line"


def test_a_did_group_can_be_renamed_and_given_a_callback(api, partner):
    body = {"name": "Helpdesk", "callback_url": "http://127.0.0.1:9000/group"}
    group = api("patch", "did_group", SUPPORT_SID, body=body).json()
    assert (group["name"], group["callback_url"]) == ("Helpdesk", "http://127.0.0.1:9000/group")
    assert SandboxDidGroup.objects.get().callback_url == "http://127.0.0.1:9000/group"
    assert api("patch", "did_group", SUPPORT_SID, body={"bogus": 1}).status_code == 422


def test_the_token_sees_its_own_partner(api, partner):
    page = api("get", "partners").json()
    assert page["total"] == 1
    assert page["items"][0]["partner_sid"] == PARTNER_SID
    assert page["items"][0]["callbacks"] == {
        "phonenumber_order": "https://example.com/orders",
        "sms": "https://portal.example.com/webhooks/carrierx/secret/",
    }


def test_patching_partner_callbacks_merges_and_keeps_other_keys(api, partner):
    body = {"callbacks": {"sms": "https://example.com/new-sms"}}
    response = api("patch", "partner", PARTNER_SID, body=body)

    assert response.status_code == 200
    assert response.json()["callbacks"] == {
        "phonenumber_order": "https://example.com/orders",
        "sms": "https://example.com/new-sms",
    }
    partner.refresh_from_db()
    assert partner.callbacks["phonenumber_order"] == "https://example.com/orders"


@pytest.mark.parametrize("empty", [None, ""])
def test_a_partner_callback_set_to_nothing_is_removed(api, partner, empty):
    body = {"callbacks": {"sms": empty}}
    callbacks = api("patch", "partner", PARTNER_SID, body=body).json()["callbacks"]
    assert callbacks == {"phonenumber_order": "https://example.com/orders"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"callbacks": {"voicemail": "https://example.com/"}}, "callbacks.voicemail"),
        ({"callbacks": {"sms": "mailto:ops@example.com"}}, "callbacks.sms"),
        ({"callbacks": "https://example.com/"}, "callbacks"),
        ({"field_naming": "modern"}, "field_naming"),
    ],
)
def test_a_bad_partner_patch_is_refused(api, partner, body, field):
    response = api("patch", "partner", PARTNER_SID, body=body)
    assert response.status_code == 422
    assert error_fields(response) == [field]


def test_the_partners_field_naming_can_be_switched(api, partner):
    response = api("patch", "partner", PARTNER_SID, body={"field_naming": "current"})
    assert response.json()["field_naming"] == "current"
    body = load_fixture("send_request_legacy")
    sms = api("post", "sms_messages", body=body).json()
    assert (sms["from"], sms["to"]) == (MAIN_LINE, "15162065574")


def test_a_patch_that_is_not_json_is_a_415(api, partner):
    before = SandboxDid.objects.get(phonenumber=MAIN_LINE).callback_url
    response = api(
        "patch", "did", did_sid(MAIN_LINE), body="callback_url=x", content_type="text/plain"
    )
    assert response.status_code == 415
    assert SandboxDid.objects.get(phonenumber=MAIN_LINE).callback_url == before


# --- The portal's own client over real HTTP -------------------------------------------------------


@pytest.fixture
def portal_client(sandbox, settings) -> Iterator[CarrierXClient]:
    """The portal's client class on a Session of its own, closed after the test: a kept-alive
    connection would hold a live-server thread, and its database connection, open to the end."""
    with requests.Session() as session:
        yield CarrierXClient(
            base_url=settings.CARRIERX_API_URL,
            token=settings.CARRIERX_TOKEN,
            timeout=settings.CARRIERX_TIMEOUT,
            session=session,
        )


@pytest.mark.django_db(transaction=True)
def test_the_portals_client_pages_through_every_did_and_sends(portal_client):
    client = portal_client

    numbers = [did["phonenumber"] for did in client.iter_list("phonenumber/dids", {"limit": 5})]
    sent = client.send_sms(from_=MAIN_LINE, to="15162065574", message="Hello from the portal")
    read_back = client.get_sms(sent["message_sid"])

    assert len(numbers) == 12 and len(set(numbers)) == 12
    assert (sent["from"], sent["to"], sent["status"]) == (MAIN_LINE, "15162065574", "queued")
    assert read_back["message_sid"] == sent["message_sid"]


@pytest.mark.django_db(transaction=True)
def test_the_portals_client_reads_the_sandboxs_refusal(portal_client):
    with pytest.raises(CarrierXError) as caught:
        portal_client.send_sms(from_="15162065574", to="15162065575", message="Hi")
    assert caught.value.status == 422
    assert "from: 15162065574 is not a DID of this partner" in str(caught.value)
