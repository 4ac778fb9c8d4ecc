"""The one CarrierX client, mocked only at the HTTP seam: what it sends, and what it makes of
each answer the carrier (or the network) can give."""

from __future__ import annotations

import json
import socket
from http.client import RemoteDisconnected

import pytest
import requests
import responses
from urllib3.connection import HTTPSConnection
from urllib3.exceptions import MaxRetryError, NameResolutionError, NewConnectionError, ProtocolError

from portal.carrierx import (
    USER_AGENT,
    CarrierXClient,
    CarrierXError,
    error_message,
    get_client,
    sms_fields,
)
from tests.conftest import load_fixture

BASE = "https://api.carrierx.com/core/v2"
SMS_URL = f"{BASE}/sms/messages"
DIDS_URL = f"{BASE}/phonenumber/dids"
MESSAGE_SID = "097b49df-c54e-4eaf-97d0-89cf7d5a655b"
DID_SID = "e8df62d5-07a3-4189-a67e-87585067c5fe"
PARTNER_SID = "e00430c3-a7d0-4666-ab5c-f7202448382f"


@pytest.fixture
def carrier():
    """The HTTP seam: every request must be answered by a registered response, and every
    registered response must be asked for."""
    with responses.RequestsMock() as mock:
        yield mock


@pytest.fixture
def api() -> CarrierXClient:
    return CarrierXClient(base_url=BASE, token="tok", timeout=(1, 2))


def sent_json(call) -> dict:
    return json.loads(call.request.body)


def assert_carrier_headers(request, token: str = "tok") -> None:
    assert request.headers["Authorization"] == f"Bearer {token}"
    assert request.headers["User-Agent"] == USER_AGENT
    assert request.headers["Accept"] == "application/json"


def envelope(items: list, *, offset: int, total: int, next_url: str | None) -> dict:
    return {
        "count": len(items),
        "has_more": next_url is not None,
        "items": items,
        "limit": 100,
        "offset": offset,
        "pagination": {"next": next_url} if next_url else {},
        "total": total,
    }


# --- sending and reading SMS ---------------------------------------------------------------------


def test_send_sms_posts_from_to_and_message_as_json_with_the_bearer_token(carrier, api):
    carrier.post(SMS_URL, json=load_fixture("send_response"))

    sms = api.send_sms(from_="15162065575", to="15162065574", message="This is a test message")

    assert len(carrier.calls) == 1
    request = carrier.calls[0].request
    assert request.method == "POST"
    assert request.url == SMS_URL
    assert_carrier_headers(request)
    assert request.headers["Content-Type"] == "application/json"
    assert sent_json(carrier.calls[0]) == {
        "from": "15162065575",
        "to": "15162065574",
        "message": "This is a test message",
    }
    assert sms["message_sid"] == MESSAGE_SID
    assert sms["status"] == "queued"
    assert sms["from"] == "15162065575"
    assert sms["to"] == "15162065574"


def test_send_sms_adds_user_data_to_the_body_only_when_given(carrier, api):
    carrier.post(SMS_URL, json=load_fixture("send_response"))

    sms = api.send_sms(
        from_="15162065575", to="15162065574", message="hello", user_data="test_message"
    )

    assert sent_json(carrier.calls[0]) == {
        "from": "15162065575",
        "to": "15162065574",
        "message": "hello",
        "user_data": "test_message",
    }
    assert sms["user_data"] == "test_message"


def test_send_sms_uses_the_timeout_tuple_it_was_built_with(carrier, api):
    carrier.post(SMS_URL, json=load_fixture("send_response"))

    api.send_sms(from_="15162065575", to="15162065574", message="hi")

    assert carrier.calls[0].request.req_kwargs["timeout"] == (1, 2)


def test_a_legacy_send_answer_is_readable_as_from_and_to(carrier, api):
    legacy = load_fixture("send_response_legacy")
    carrier.post(SMS_URL, json=legacy)

    sms = api.send_sms(from_="15162065575", to="15162065574", message="This is a test message")

    assert sms["from"] == "15162065575"
    assert sms["to"] == "15162065574"
    # The carrier's own keys are kept as they came.
    assert sms["from_did"] == "15162065575"
    assert sms["to_did"] == "15162065574"
    assert sms["message_sid"] == legacy["message_sid"]


def test_sms_fields_fills_from_and_to_for_both_namings_without_changing_the_input():
    current = load_fixture("status_delivered")
    legacy = load_fixture("status_delivered_legacy")
    legacy_copy = dict(legacy)

    for sms in (sms_fields(current), sms_fields(legacy)):
        assert (sms["from"], sms["to"]) == ("15162065575", "15162065574")
        assert sms["status"] == "delivered"
    assert legacy == legacy_copy
    assert sms_fields({})["from"] == ""
    assert sms_fields({})["to"] == ""


def test_get_sms_gets_the_message_by_its_sid(carrier, api):
    carrier.get(f"{SMS_URL}/{MESSAGE_SID}", json=load_fixture("status_delivered_legacy"))

    sms = api.get_sms(MESSAGE_SID)

    request = carrier.calls[0].request
    assert request.method == "GET"
    assert request.url == f"{SMS_URL}/{MESSAGE_SID}"
    assert request.body is None
    assert_carrier_headers(request)
    assert sms["status"] == "delivered"
    assert (sms["from"], sms["to"]) == ("15162065575", "15162065574")


def test_list_sms_sends_filter_and_order_and_fills_both_namings(carrier, api):
    url = f"{SMS_URL}?limit=100&filter=direction+eq+%22inbound%22&order=date_created+desc"
    carrier.get(
        url,
        json=envelope([load_fixture("inbound_legacy")], offset=0, total=1, next_url=None),
    )

    messages = list(api.list_sms(filter='direction eq "inbound"', order="date_created desc"))

    assert carrier.calls[0].request.url == url
    assert [(m["from"], m["to"]) for m in messages] == [("15162065319", "15162065318")]


# --- errors from the carrier ---------------------------------------------------------------------


def test_a_404_body_becomes_a_permanent_carrierx_error_with_the_carriers_words(carrier, api):
    carrier.get(f"{SMS_URL}/nope", status=404, json=load_fixture("error_404"))

    with pytest.raises(CarrierXError) as caught:
        api.get_sms("nope")

    err = caught.value
    assert err.status == 404
    assert "no item error" in err.message
    assert "cannot find item by sid" in err.message
    assert err.permanent is True
    assert err.reached_carrier is True
    assert err.retry_after is None
    assert err.errors == load_fixture("error_404")["errors"]
    assert str(err) == "no item error: cannot find item by sid (HTTP 404)"


def test_a_422_names_the_field_that_failed_validation(carrier, api):
    body = {
        "message": "object validation error",
        "errors": [
            {"field": "to", "message": "invalid phone number", "reference_sid": None},
            {"field": "message", "message": "too long", "reference_sid": None},
        ],
    }
    carrier.post(SMS_URL, status=422, json=body)

    with pytest.raises(CarrierXError) as caught:
        api.send_sms(from_="15162065575", to="12", message="x" * 2000)

    err = caught.value
    assert err.status == 422
    assert err.permanent is True
    assert err.message == "object validation error: to: invalid phone number; message: too long"
    assert [e["field"] for e in err.errors] == ["to", "message"]


def test_a_429_carries_retry_after_and_is_not_permanent(carrier, api):
    carrier.post(
        SMS_URL, status=429, json={"message": "too many requests"}, headers={"Retry-After": "7"}
    )

    with pytest.raises(CarrierXError) as caught:
        api.send_sms(from_="15162065575", to="15162065574", message="hi")

    err = caught.value
    assert err.status == 429
    assert err.retry_after == 7.0
    assert err.permanent is False
    assert "too many requests" in err.message


def test_a_retry_after_that_is_not_a_number_of_seconds_is_ignored(carrier, api):
    carrier.post(
        SMS_URL,
        status=429,
        json={"message": "too many requests"},
        headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"},
    )

    with pytest.raises(CarrierXError) as caught:
        api.send_sms(from_="15162065575", to="15162065574", message="hi")

    assert caught.value.retry_after is None


def test_a_500_is_not_permanent_even_without_a_json_body(carrier, api):
    carrier.post(SMS_URL, status=500, body="<html>Internal Server Error</html>")

    with pytest.raises(CarrierXError) as caught:
        api.send_sms(from_="15162065575", to="15162065574", message="hi")

    err = caught.value
    assert err.status == 500
    assert err.permanent is False
    assert err.reached_carrier is True
    assert err.message == "CarrierX answered HTTP 500"


def test_a_200_whose_body_is_not_json_raises_carrierx_error(carrier, api):
    carrier.post(SMS_URL, status=200, body="<html>captive portal</html>")

    with pytest.raises(CarrierXError, match="not JSON") as caught:
        api.send_sms(from_="15162065575", to="15162065574", message="hi")

    assert caught.value.status == 200


# --- network failures ----------------------------------------------------------------------------


def _refused() -> requests.ConnectionError:
    conn = HTTPSConnection("api.carrierx.com")
    reason = NewConnectionError(
        conn, "Failed to establish a new connection: [Errno 111] Connection refused"
    )
    return requests.ConnectionError(MaxRetryError(None, "/core/v2/sms/messages", reason))


def _unresolvable() -> requests.ConnectionError:
    conn = HTTPSConnection("api.carrierx.com")
    reason = NameResolutionError(
        "api.carrierx.com", conn, socket.gaierror(-2, "Name or service not known")
    )
    return requests.ConnectionError(MaxRetryError(None, "/core/v2/sms/messages", reason))


@pytest.mark.parametrize("failure", [_refused, _unresolvable], ids=["refused", "dns"])
def test_a_connection_that_never_opened_did_not_reach_the_carrier(carrier, api, failure):
    carrier.post(SMS_URL, body=failure())

    with pytest.raises(CarrierXError) as caught:
        api.send_sms(from_="15162065575", to="15162065574", message="hi")

    err = caught.value
    assert err.reached_carrier is False
    assert err.status is None
    assert err.permanent is False
    assert "could not connect" in err.message
    assert isinstance(err.__cause__, requests.ConnectionError)


def test_a_connection_that_dropped_mid_answer_may_have_reached_the_carrier(carrier, api):
    dropped = requests.ConnectionError(
        ProtocolError(
            "Connection aborted.",
            RemoteDisconnected("Remote end closed connection without response"),
        )
    )
    carrier.post(SMS_URL, body=dropped)

    with pytest.raises(CarrierXError) as caught:
        api.send_sms(from_="15162065575", to="15162065574", message="hi")

    err = caught.value
    assert err.reached_carrier is True
    assert err.status is None
    assert err.permanent is False
    assert "the connection dropped" in err.message


def test_a_connect_timeout_did_not_reach_the_carrier(carrier, api):
    carrier.post(SMS_URL, body=requests.ConnectTimeout("ConnectTimeoutError: timed out"))

    with pytest.raises(CarrierXError) as caught:
        api.send_sms(from_="15162065575", to="15162065574", message="hi")

    assert caught.value.reached_carrier is False


def test_a_read_timeout_did_not_answer_in_time_but_may_have_reached_the_carrier(carrier, api):
    carrier.post(SMS_URL, body=requests.ReadTimeout("Read timed out. (read timeout=2)"))

    with pytest.raises(CarrierXError) as caught:
        api.send_sms(from_="15162065575", to="15162065574", message="hi")

    err = caught.value
    assert "did not answer in time" in err.message
    assert err.reached_carrier is True
    assert err.status is None
    assert err.permanent is False


# --- pagination ----------------------------------------------------------------------------------


def test_list_dids_follows_pagination_next_across_three_pages_and_yields_every_item_once(
    carrier, api
):
    did = load_fixture("did")
    pages = [
        [dict(did, did_sid=f"did-{n}", phonenumber=f"1516206{n:04d}") for n in range(start, stop)]
        for start, stop in ((0, 100), (100, 200), (200, 250))
    ]
    first = f"{DIDS_URL}?limit=100"
    second = f"{DIDS_URL}?limit=100&offset=100"
    third = f"{DIDS_URL}?limit=100&offset=200"
    carrier.get(first, json=envelope(pages[0], offset=0, total=250, next_url=second))
    carrier.get(second, json=envelope(pages[1], offset=100, total=250, next_url=third))
    carrier.get(third, json=envelope(pages[2], offset=200, total=250, next_url=None))

    dids = list(api.list_dids())

    assert [c.request.url for c in carrier.calls] == [first, second, third]
    assert all(c.request.method == "GET" for c in carrier.calls)
    for call in carrier.calls:
        assert_carrier_headers(call.request)
        assert call.request.req_kwargs["timeout"] == (1, 2)
    sids = [d["did_sid"] for d in dids]
    assert sids == [f"did-{n}" for n in range(250)]
    assert len(set(sids)) == 250


def test_a_next_page_on_another_host_is_refused_and_never_sent_the_token(carrier, api):
    first = f"{DIDS_URL}?limit=100"
    elsewhere = "https://collector.example.net/phonenumber/dids?offset=100"
    carrier.get(first, json=envelope([load_fixture("did")], offset=0, total=2, next_url=elsewhere))

    with pytest.raises(CarrierXError, match="another host"):
        list(api.list_dids())

    assert [c.request.url for c in carrier.calls] == [first]


def test_listing_stops_at_a_page_whose_pagination_is_empty(carrier, api):
    first = f"{DIDS_URL}?limit=100"
    carrier.get(first, json=envelope([load_fixture("did")], offset=0, total=1, next_url=None))

    dids = list(api.list_dids())

    assert [d["did_sid"] for d in dids] == [DID_SID]
    assert len(carrier.calls) == 1
    assert carrier.calls[0].request.url == first


def test_listing_stops_on_an_empty_page_even_if_it_links_to_another(carrier, api):
    first = f"{DIDS_URL}?limit=100"
    carrier.get(
        first,
        json=envelope([], offset=0, total=0, next_url=f"{DIDS_URL}?limit=100&offset=100"),
    )

    assert list(api.list_dids()) == []
    assert len(carrier.calls) == 1


# --- updates -------------------------------------------------------------------------------------


def test_update_did_sends_a_patch_with_exactly_the_changes(carrier, api):
    changed = dict(load_fixture("did"), callback_url="https://portal.example/hooks/sms")
    carrier.patch(f"{DIDS_URL}/{DID_SID}", json=changed)

    did = api.update_did(DID_SID, {"callback_url": "https://portal.example/hooks/sms"})

    request = carrier.calls[0].request
    assert request.method == "PATCH"
    assert request.url == f"{DIDS_URL}/{DID_SID}"
    assert_carrier_headers(request)
    assert request.headers["Content-Type"] == "application/json"
    assert sent_json(carrier.calls[0]) == {"callback_url": "https://portal.example/hooks/sms"}
    assert did["callback_url"] == "https://portal.example/hooks/sms"
    assert did["did_sid"] == DID_SID


def test_update_partner_sends_a_patch_with_the_callbacks(carrier, api):
    changes = {"callbacks": {"sms": "https://portal.example/hooks/sms"}}
    carrier.patch(f"{BASE}/partners/{PARTNER_SID}", json={"partner_sid": PARTNER_SID, **changes})

    partner = api.update_partner(PARTNER_SID, changes)

    request = carrier.calls[0].request
    assert request.method == "PATCH"
    assert request.url == f"{BASE}/partners/{PARTNER_SID}"
    assert_carrier_headers(request)
    assert sent_json(carrier.calls[0]) == changes
    assert partner == {"partner_sid": PARTNER_SID, **changes}


# --- error_message on odd bodies -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (None, "CarrierX answered HTTP 502"),
        ("Bad Gateway", "CarrierX answered HTTP 502"),
        ([{"message": "a list"}], "CarrierX answered HTTP 502"),
        ({}, "CarrierX answered HTTP 502"),
        ({"message": None, "errors": None}, "CarrierX answered HTTP 502"),
        ({"errors": [{"field": "to", "message": "bad"}]}, "CarrierX answered HTTP 502: to: bad"),
        ({"message": "oops", "errors": ["text", {"field": "x"}, {}]}, "oops"),
        ({"message": "oops", "errors": [{"field": None, "message": "why"}]}, "oops: why"),
        ({"message": "oops", "errors": "not a list"}, "oops"),
        ({"message": "oops", "errors": 5}, "oops"),
        ({"message": "oops", "errors": {"field": "to", "message": "bad"}}, "oops"),
    ],
)
def test_error_message_reads_odd_bodies_without_failing(body, expected):
    assert error_message(body, 502) == expected


def test_an_error_body_with_a_non_list_errors_still_becomes_carrierx_error(carrier, api):
    carrier.post(SMS_URL, status=400, json={"message": "bad request", "errors": 5})

    with pytest.raises(CarrierXError) as caught:
        api.send_sms(from_="15162065575", to="15162065574", message="hi")

    assert caught.value.message == "bad request"
    assert caught.value.errors == []
    assert caught.value.permanent is True


# --- get_client ----------------------------------------------------------------------------------


def test_get_client_uses_the_configured_url_token_and_timeout(settings, carrier):
    settings.CARRIERX_API_URL = "https://carrier.test/core/v2"
    settings.CARRIERX_TOKEN = "settings-token"
    settings.CARRIERX_TIMEOUT = (3.0, 9.0)
    carrier.get(
        f"https://carrier.test/core/v2/sms/messages/{MESSAGE_SID}",
        json=load_fixture("status_delivered"),
    )

    sms = get_client().get_sms(MESSAGE_SID)

    request = carrier.calls[0].request
    assert request.url == f"https://carrier.test/core/v2/sms/messages/{MESSAGE_SID}"
    assert_carrier_headers(request, token="settings-token")
    assert request.req_kwargs["timeout"] == (3.0, 9.0)
    assert sms["status"] == "delivered"
