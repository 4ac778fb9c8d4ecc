"""The consent record: every STOP and START texted (with its message), every imported opt-in,
every opt-in and opt-out entered by staff; shown on the contact and exported as CSV. A staff
opt-out stops sends; a staff opt-in never lifts the customer's own STOP."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.test import Client
from django.urls import reverse

from contacts.models import Contact
from messaging.models import ConsentEvent, Message, OptOut
from messaging.services.opt_out import opt_out_refusal
from phone_numbers.models import Did
from phone_numbers.sync import did_store
from tests.conftest import load_fixture

pytestmark = pytest.mark.django_db
CUSTOMER = "15162065319"
OUR_DID = "15162065318"
OTHER_DID = "15162065575"


@pytest.fixture(autouse=True)
def dids():
    for n in (OUR_DID, OTHER_DID):
        Did.objects.create(did_sid=n, phonenumber=n, active_capabilities=7, capabilities=7)


@pytest.fixture
def staff(client, inbox_staff):
    client.force_login(inbox_staff)
    return client


@pytest.fixture
def ann():
    return Contact.objects.create(number=CUSTOMER, name="Ann Lee")


def text_us(webhook_url, body, *, sid, did=OUR_DID):
    payload = load_fixture("inbound_legacy")
    payload.update(message_sid=sid, message=body, from_did=CUSTOMER, to_did=did)
    response = Client().post(webhook_url, json.dumps(payload), content_type="application/json")
    assert response.status_code == 200
    return Message.objects.get(message_sid=sid)


def export(client, url) -> list[list[str]]:
    response = client.get(url)
    assert response.status_code == 200
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_every_stop_and_start_texted_is_recorded_with_its_message(webhook_url):
    stop = text_us(webhook_url, "Stop!", sid="m-1")
    start = text_us(webhook_url, "start", sid="m-2", did=OTHER_DID)
    text_us(webhook_url, "please stop texting me", sid="m-3")
    events = list(ConsentEvent.objects.order_by("id"))
    assert [(e.kind, e.method, e.detail, e.our_number, e.message_id) for e in events] == [
        ("opt_out", "keyword", "STOP", OUR_DID, stop.pk),
        ("opt_in", "keyword", "START", OTHER_DID, start.pk),
    ]
    assert events[0].consented_at == stop.created_at


def test_a_duplicate_callback_of_a_stop_records_it_once(webhook_url):
    text_us(webhook_url, "STOP", sid="m-1")
    text_us(webhook_url, "STOP", sid="m-1")
    assert ConsentEvent.objects.count() == 1


def test_consent_export_lists_every_stop_and_start_with_its_message(webhook_url, staff, ann):
    stop = text_us(webhook_url, "STOP", sid="m-1")
    start = text_us(webhook_url, "START", sid="m-2")
    rows = export(staff, reverse("contacts:consent_export"))
    assert rows[0] == [
        "number",
        "name",
        "DID",
        "opt in/out",
        "method",
        "detail",
        "when",
        "recorded by",
        "message id",
        "message text",
    ]
    assert [r[:6] + r[7:] for r in rows[1:]] == [
        [
            CUSTOMER,
            "Ann Lee",
            OUR_DID,
            "opt in",
            "Texted a keyword",
            "START",
            "",
            str(start.pk),
            "START",
        ],
        [
            CUSTOMER,
            "Ann Lee",
            OUR_DID,
            "opt out",
            "Texted a keyword",
            "STOP",
            "",
            str(stop.pk),
            "STOP",
        ],
    ]


def test_one_contacts_export_holds_only_their_record(webhook_url, staff, ann):
    text_us(webhook_url, "STOP", sid="m-1")
    other = Contact.objects.create(number="12125550142", name="Bob")
    ConsentEvent.objects.create(
        customer_number=other.number,
        kind="opt_in",
        method="staff",
        detail="x",
        consented_at=ann.created_at,
    )
    assert len(export(staff, reverse("contacts:consent_export"))) == 3
    rows = export(staff, reverse("contacts:contact_consent_export", args=[ann.pk]))
    assert [r[0] for r in rows[1:]] == [CUSTOMER]


def test_the_contact_page_shows_the_record_newest_first_with_the_message_link(
    webhook_url, staff, ann
):
    stop = text_us(webhook_url, "STOP", sid="m-1")
    start = text_us(webhook_url, "START", sid="m-2")
    page = staff.get(reverse("contacts:detail", args=[ann.pk])).content.decode()
    first = page.index(reverse("messaging:message", args=[start.pk]))
    second = page.index(reverse("messaging:message", args=[stop.pk]))
    assert first < second
    assert "Texted a keyword: STOP" in page


def test_a_staff_opt_out_of_every_did_stops_sends_from_each(staff, ann, inbox_staff):
    response = staff.post(
        reverse("contacts:consent", args=[ann.pk]),
        {"our_number": "", "kind": "opt_out", "reason": "asked on the phone"},
    )
    assert response.status_code == 302
    event = ConsentEvent.objects.get()
    assert (event.kind, event.method, event.detail, event.our_number, event.recorded_by) == (
        "opt_out",
        "staff",
        "asked on the phone",
        "",
        inbox_staff,
    )
    assert set(OptOut.objects.filter(opted_out=True).values_list("our_number", "keyword")) == {
        (OUR_DID, "STAFF"),
        (OTHER_DID, "STAFF"),
    }
    refusal = opt_out_refusal(customer=CUSTOMER, our_number=OUR_DID)
    assert "opted out by staff" in refusal


NEW_DID = "15162065576"


def rented_later(number=NEW_DID):
    # As the sync and a rental store a DID the carrier answered with.
    return did_store({"did_sid": f"sid-{number}", "phonenumber": number, "capabilities": 7})


def test_a_staff_opt_out_of_every_did_covers_a_did_rented_after_it(staff, ann):
    other = Contact.objects.create(number="15162065320", name="Bo")
    url = reverse("contacts:consent", args=[ann.pk])
    staff.post(url, {"our_number": "", "kind": "opt_out", "reason": "asked on the phone"})
    # Bo opted out of every DID, then back in: his last word stands.
    other_url = reverse("contacts:consent", args=[other.pk])
    staff.post(other_url, {"our_number": "", "kind": "opt_out", "reason": "asked"})
    staff.post(other_url, {"our_number": "", "kind": "opt_in", "reason": "asked again"})
    rented_later()
    assert "opted out by staff" in opt_out_refusal(customer=CUSTOMER, our_number=NEW_DID)
    assert opt_out_refusal(customer=other.number, our_number=NEW_DID) is None
    # The sync seeing the DID again adds nothing.
    rented_later()
    assert OptOut.objects.filter(our_number=NEW_DID).count() == 1


def test_a_staff_opt_out_of_one_did_does_not_reach_a_did_rented_after_it(staff, ann):
    url = reverse("contacts:consent", args=[ann.pk])
    staff.post(url, {"our_number": OUR_DID, "kind": "opt_out", "reason": "only that line"})
    rented_later()
    assert opt_out_refusal(customer=CUSTOMER, our_number=NEW_DID) is None
    assert opt_out_refusal(customer=CUSTOMER, our_number=OUR_DID) is not None


def test_a_staff_opt_in_does_not_lift_the_customers_own_stop(webhook_url, staff, ann):
    text_us(webhook_url, "STOP", sid="m-1")
    response = staff.post(
        reverse("contacts:consent", args=[ann.pk]),
        {"our_number": OUR_DID, "kind": "opt_in", "reason": "said yes at the counter"},
        follow=True,
    )
    page = response.content.decode()
    assert "only their own START" in page
    assert opt_out_refusal(customer=CUSTOMER, our_number=OUR_DID) is not None
    assert list(ConsentEvent.objects.order_by("id").values_list("kind", "method")) == [
        ("opt_out", "keyword"),
        ("opt_in", "staff"),
    ]


def test_a_staff_opt_in_lifts_a_staff_opt_out(staff, ann):
    url = reverse("contacts:consent", args=[ann.pk])
    staff.post(url, {"our_number": OUR_DID, "kind": "opt_out", "reason": "asked"})
    assert opt_out_refusal(customer=CUSTOMER, our_number=OUR_DID) is not None
    staff.post(url, {"our_number": OUR_DID, "kind": "opt_in", "reason": "asked again"})
    assert opt_out_refusal(customer=CUSTOMER, our_number=OUR_DID) is None


def test_a_staff_opt_out_does_not_turn_a_customers_stop_into_a_staff_one(webhook_url, staff, ann):
    text_us(webhook_url, "STOP", sid="m-1")
    url = reverse("contacts:consent", args=[ann.pk])
    staff.post(url, {"our_number": OUR_DID, "kind": "opt_out", "reason": "also asked"})
    staff.post(url, {"our_number": OUR_DID, "kind": "opt_in", "reason": "changed mind"})
    assert OptOut.objects.get(our_number=OUR_DID).keyword == "STOP"
    assert opt_out_refusal(customer=CUSTOMER, our_number=OUR_DID) is not None


def test_the_customers_start_lifts_a_staff_opt_out(webhook_url, staff, ann):
    staff.post(
        reverse("contacts:consent", args=[ann.pk]),
        {"our_number": OUR_DID, "kind": "opt_out", "reason": "asked"},
    )
    text_us(webhook_url, "START", sid="m-1")
    assert opt_out_refusal(customer=CUSTOMER, our_number=OUR_DID) is None


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"our_number": "", "kind": "opt_out", "reason": ""}, "Say how you know"),
        ({"our_number": "", "reason": "x"}, "Choose opted in or opted out."),
        ({"our_number": "19999999999", "kind": "opt_out", "reason": "x"}, "Select a valid choice"),
    ],
)
def test_a_consent_entry_without_its_parts_records_nothing(staff, ann, form, error):
    response = staff.post(reverse("contacts:consent", args=[ann.pk]), form)
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not ConsentEvent.objects.exists()
    assert not OptOut.objects.exists()


def test_a_long_record_shows_the_latest_and_says_the_export_holds_them_all(
    webhook_url, staff, ann, monkeypatch
):
    monkeypatch.setattr("contacts.views.CONSENT_SHOWN", 2)
    first = text_us(webhook_url, "STOP", sid="m-1")
    text_us(webhook_url, "START", sid="m-2")
    text_us(webhook_url, "STOP", sid="m-3")
    page = staff.get(reverse("contacts:detail", args=[ann.pk])).content.decode()
    assert page.count('<tr id="consent-') == 2
    assert reverse("messaging:message", args=[first.pk]) not in page
    assert "The latest 2 are shown; the export holds them all." in page
