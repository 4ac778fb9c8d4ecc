"""The sandbox's message detail records (`GET /sms/message_drs`, `/sms/message_drs/{dr_sid}`) and
number lookup (`GET /lookup/dids/{phonenumber}`) answer like the carrier's (CARRIERX-MORE.md §5,
§6), with the sandbox's documented error codes and lookup table."""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse

from sandbox.detail_records import ERROR_CODES, LANDLINE, UNDELIVERED
from sandbox.models import SandboxMessage
from sandbox.seed import PARTNER_SID, seed
from tests.conftest import run_tasks

pytestmark = pytest.mark.django_db(transaction=True)

MAIN_LINE = "15162065575"
HANDSET = "15162065574"
SAMPLE_KEYS = {
    "a2p_campaign", "date_changed", "date_insert", "date_sent", "date_start", "date_stop",
    "delay_sent", "direction", "dr_sid", "mcc", "mcc_mnc_price", "mcc_mnc_rate", "media_urls",
    "message", "message_segments", "mnc", "number_billing", "number_dst", "number_external",
    "number_group_dst", "number_src", "p2p_nnid", "partner_sid", "passthrough_price",
    "passthrough_rate", "price", "provider", "rate", "registration_type", "status", "type",
    "user_data", "vendor_error_code", "version",
}  # fmt: skip


@pytest.fixture(autouse=True)
def partner(settings):
    settings.SANDBOX_STEP_SECONDS = 0
    settings.SANDBOX_FAILURE_RATE = 0
    # Callbacks go to a host the sandbox refuses at once: no network in these tests.
    return seed(sms_callback_url="https://portal.example.com/webhooks/carrierx/secret/")


@pytest.fixture
def api(client, settings):
    def call(method: str, name: str, *args: str, body=None, params=None, path=None):
        url = path or reverse(f"sandbox:{name}", args=args)
        auth = {"HTTP_AUTHORIZATION": "Bearer " + settings.CARRIERX_TOKEN}
        if method == "get":
            return client.get(url, params or {}, **auth)
        return client.post(url, json.dumps(body), content_type="application/json", **auth)

    return call


def send(api, to: str = HANDSET, text: str = "Your order shipped", **extra):
    response = api(
        "post", "sms_messages", body={"from": MAIN_LINE, "to": to, "message": text, **extra}
    )
    assert response.status_code == 200, response.content
    return response.json()


def receive(api, text: str = "Hi there", sender: str = HANDSET):
    response = api(
        "post", "simulate_inbound", body={"from": sender, "to": MAIN_LINE, "message": text}
    )
    assert response.status_code == 200, response.content
    return response.json()


def records(api, **params) -> dict:
    response = api("get", "message_drs", params=params)
    assert response.status_code == 200, response.content
    return response.json()


def test_a_delivered_send_has_a_record_with_the_carriers_fields_price_and_delay(api):
    sent = send(api, user_data="portal-message-7")
    run_tasks()
    [record] = records(api)["items"]
    assert set(record) == SAMPLE_KEYS
    message = SandboxMessage.objects.get(message_sid=sent["message_sid"])
    assert record["dr_sid"] == message.dr_sid != message.message_sid
    assert record["direction"] == "outbound" and record["status"] == "delivered"
    assert record["number_src"] == record["number_billing"] == MAIN_LINE
    assert record["number_dst"] == record["number_external"] == HANDSET
    assert record["user_data"] == "portal-message-7"
    assert record["message"] == "Your order shipped" and record["type"] == "sms"
    assert record["price"] == "0.0075" and record["rate"] == "0.0075"
    assert record["message_segments"] == 1 and record["provider"] == "tsg"
    assert (record["mcc"], record["mnc"]) == (310, 999)
    assert record["partner_sid"] == PARTNER_SID
    assert record["vendor_error_code"] is None and "error_message" not in record
    assert record["date_insert"] == record["date_start"] <= record["date_sent"]
    assert record["date_sent"] <= record["date_stop"]
    assert record["delay_sent"] == 0


def test_a_record_is_there_from_the_start_and_follows_the_message(api, settings):
    settings.SANDBOX_STEP_SECONDS = 60  # the steps wait: the message stays queued
    send(api)
    [record] = records(api)["items"]
    assert record["status"] == "queued"
    assert record["date_sent"] is None and record["date_stop"] is None
    assert record["delay_sent"] is None and record["price"] is None
    SandboxMessage.objects.update(date_created=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    from sandbox.tasks import advance_message

    message = SandboxMessage.objects.get()
    advance_message.call(message.message_sid, "queued")
    advance_message.call(message.message_sid, "sent")
    [record] = records(api)["items"]
    assert record["status"] == "delivered" and record["date_stop"] is not None
    assert record["delay_sent"] > 3600  # created (backdated) long before it was sent


def test_an_inbound_text_has_a_received_record_that_names_our_did_as_billing(api):
    receive(api, "Is the shop open?")
    run_tasks()
    [record] = records(api)["items"]
    assert record["direction"] == "inbound" and record["status"] == "received"
    assert record["number_src"] == record["number_external"] == HANDSET
    assert record["number_dst"] == record["number_billing"] == MAIN_LINE
    assert record["date_stop"] is not None and record["user_data"] is None


def test_a_text_to_a_landline_fails_unsent_with_the_landline_code_and_reason(api):
    sent = send(api, to="12125550100")
    run_tasks()
    one = api(
        "get", "message_dr", SandboxMessage.objects.get(message_sid=sent["message_sid"]).dr_sid
    )
    record = one.json()
    assert record["status"] == "failed"
    assert record["vendor_error_code"] == LANDLINE
    assert "landline" in record["error_message"]
    assert record["price"] == "0" and record["date_sent"] is None and record["date_stop"]
    sms = api("get", "sms_message", sent["message_sid"]).json()
    assert sms["status"] == "failed" and "landline" in sms["error_message"]


def test_an_undelivered_text_has_the_undelivered_code_and_the_tables_reason(api, settings):
    settings.SANDBOX_FAILURE_RATE = 1
    send(api)
    run_tasks()
    [record] = records(api)["items"]
    assert record["status"] == "failed" and record["vendor_error_code"] == UNDELIVERED
    assert record["error_message"] == ERROR_CODES[UNDELIVERED]


def test_an_unknown_record_is_the_carriers_404(api):
    response = api("get", "message_dr", "no-such-record")
    assert response.status_code == 404
    assert response.json()["message"] == "no item error"


def test_after_and_before_page_in_insertion_order_with_next_and_previous_links(api):
    for n in range(5):
        receive(api, f"text {n}")
    sids = list(
        SandboxMessage.objects.order_by("date_created", "pk").values_list("dr_sid", flat=True)
    )

    first = records(api, limit=2)
    assert [r["dr_sid"] for r in first["items"]] == sids[:2]
    assert first["total"] is None and first["has_more"] is True
    assert "previous" not in first["pagination"]
    next_query = parse_qs(urlsplit(first["pagination"]["next"]).query)
    assert next_query["after"] == [sids[1]] and next_query["limit"] == ["2"]

    second = records(api, after=sids[1], limit=2)
    assert [r["dr_sid"] for r in second["items"]] == sids[2:4]
    previous = parse_qs(urlsplit(second["pagination"]["previous"]).query)
    assert previous["before"] == [sids[2]] and previous["offset"] == ["0"]

    last = records(api, after=sids[3], limit=2)
    assert [r["dr_sid"] for r in last["items"]] == sids[4:]
    assert last["has_more"] is False and "next" not in last["pagination"]

    back = records(api, before=sids[4], limit=2)
    assert [r["dr_sid"] for r in back["items"]] == sids[2:4]
    assert parse_qs(urlsplit(back["pagination"]["next"]).query)["after"] == [sids[3]]
    assert records(api, before=sids[0])["items"] == []


def test_following_next_reads_every_record_once(api, client, settings):
    for n in range(7):
        receive(api, f"text {n}")
    seen, url = [], reverse("sandbox:message_drs") + "?limit=3"
    while url:
        page = client.get(url, HTTP_AUTHORIZATION="Bearer " + settings.CARRIERX_TOKEN).json()
        seen += [r["dr_sid"] for r in page["items"]]
        url = page["pagination"].get("next")
    assert sorted(seen) == sorted(SandboxMessage.objects.values_list("dr_sid", flat=True))
    assert len(seen) == 7


def test_filters_on_direction_and_dates(api):
    receive(api, "in")
    send(api, text="out")
    run_tasks()
    SandboxMessage.objects.filter(direction="inbound").update(
        date_created=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        date_stop=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    )

    def directions(expression: str) -> list[str]:
        return [r["direction"] for r in records(api, filter=expression)["items"]]

    assert directions("direction eq inbound") == ["inbound"]
    assert directions("direction eq any") == ["inbound", "outbound"]
    assert directions("date_insert ge 2026-06-01") == ["outbound"]
    assert directions("date_insert lt 2026-06-01T00:00:00Z") == ["inbound"]
    assert directions("date_stop ge 2026-06-01 and direction eq outbound") == ["outbound"]
    assert directions("date_stop lt 2026-01-02") == ["inbound"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"after": "no-such-record"}, "after"),
        ({"before": "no-such-record"}, "before"),
        ({"after": "x", "before": "y"}, "before"),
        ({"limit": "0"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"filter": "date_insert ge yesterday"}, "filter"),
        ({"filter": "price gt 1"}, "filter"),
        ({"filter": "direction eq"}, "filter"),
    ],
)
def test_bad_paging_and_filters_are_400_naming_the_parameter(api, params, field):
    receive(api)
    response = api("get", "message_drs", params=params)
    assert response.status_code == 400, response.content
    assert response.json()["errors"][0]["field"] == field


# --- lookup --------------------------------------------------------------------------------------


def lookup(api, number: str, **params):
    return api("get", "lookup_did", path=f"/sandbox/core/v2/lookup/dids/{number}", params=params)


@pytest.mark.parametrize(
    ("number", "kind", "name"),
    [
        (HANDSET, "mobile", "SANDBOX WIRELESS"),
        ("12125550100", "landline", "SANDBOX BELL"),
        ("15550109999", "voip", "SANDBOX VOIP"),
        (MAIN_LINE, "voip", "CARRIERX SANDBOX"),
    ],
)
def test_lookup_with_carrier_answers_from_the_documented_table(api, number, kind, name):
    body = lookup(api, number, carrier="true").json()
    carrier = body["details"]["carrier"]
    assert carrier["type"] == kind and carrier["name"] == name
    assert isinstance(carrier["mcc"], str) and isinstance(carrier["mnc"], str)
    assert body["phonenumber"] == number and body["e164_format"] == "+" + number


def test_lookup_reads_digits_and_plus_and_ignores_the_rest(api):
    body = lookup(api, "+1 (562) 349-90-00").json()
    assert body == {
        "country_code": "USA",
        "details": {"carrier": None, "cnam": None, "lrn": None},
        "e164_format": "+15623499000",
        "in_country_format": "(562) 349-9000",
        "international_format": "+1 562-349-9000",
        "phonenumber": "15623499000",
        "state": "CA",
    }
    assert lookup(api, "5623499000").json()["phonenumber"] == "15623499000"
    assert lookup(api, "15162065574", carrier="false").json()["details"]["carrier"] is None


@pytest.mark.parametrize("number", ["12", "abc", "+999 123 456 789 012 345", "1234567"])
def test_lookup_of_something_that_is_not_a_number_is_422_with_the_reason(api, number):
    response = lookup(api, number, carrier="true")
    assert response.status_code == 422, response.content
    error = response.json()["errors"][0]
    assert error["field"] == "phonenumber" and "not" in error["message"]


def test_lookup_refuses_a_carrier_flag_that_is_not_a_boolean(api):
    response = lookup(api, HANDSET, carrier="maybe")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "carrier"
