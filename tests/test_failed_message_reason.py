"""A failed message says why, as the carrier reported it and in words, with no price where the
carrier charged none; Recently sent links every row to its message page; the "Sending to …"
banner goes once the status is final."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from messaging.models import Direction, Message, Status
from messaging.services import carrier_events
from phone_numbers.models import Did
from tests.conftest import load_fixture, make_user

pytestmark = pytest.mark.django_db

MAIN_LINE = "15162065575"
CUSTOMER = "12125550142"
SID = "097b49df-c54e-4eaf-97d0-89cf7d5a655b"


@pytest.fixture(autouse=True)
def did():
    Did.objects.create(did_sid="d1", phonenumber=MAIN_LINE, capabilities=7, active_capabilities=7)


@pytest.fixture
def sent() -> Message:
    return Message.objects.create(
        message_sid=SID,
        direction=Direction.OUTBOUND,
        our_number=MAIN_LINE,
        their_number=CUSTOMER,
        body="Your table is ready",
        status=Status.QUEUED,
    )


@pytest.fixture
def staff() -> Client:
    client = Client()
    client.force_login(make_user("sam", "Senders", "Inbox staff"))
    return client


def carrier_says(webhook_url: str, **fields) -> None:
    body = load_fixture("status_delivered")
    body.update(message_sid=SID, to=CUSTOMER, **fields)
    response = Client().post(webhook_url, json.dumps(body), content_type="application/json")
    assert response.status_code == 200


def test_a_failed_message_shows_the_carriers_error_fields_and_the_reason_in_words(
    webhook_url, sent, staff
):
    carrier_says(
        webhook_url,
        status="failed",
        price="0",
        error_message="Destination handset unreachable",
        vendor_error_code="30003",
    )
    sent.refresh_from_db()
    assert sent.status == "failed"
    page = staff.get(reverse("messaging:message", args=[sent.pk])).content.decode()
    assert "Why it failed" in page
    assert (
        "CarrierX could not deliver this text to +1 212-555-0142: it reported "
        "“Destination handset unreachable” (error code 30003)."
    ) in page
    assert "<code>status: failed</code>" in page
    assert "<code>error_message: Destination handset unreachable</code>" in page
    assert "<code>vendor_error_code: 30003</code>" in page
    assert "<dt>Price</dt>" not in page  # charged 0: no price


def test_a_failure_without_any_error_field_says_the_carrier_gave_no_reason(
    webhook_url, sent, staff
):
    carrier_says(webhook_url, status="failed", price=None)
    page = staff.get(reverse("messaging:message", args=[sent.pk])).content.decode()
    assert "reported that this text to +1 212-555-0142 failed, without giving a reason" in page
    assert "with no error field" in page
    assert "<dt>Price</dt>" not in page


def test_a_delivered_message_keeps_its_price_and_gives_no_failure_reason(webhook_url, sent, staff):
    carrier_says(webhook_url, status="delivered", price="0.0075")
    page = staff.get(reverse("messaging:message", args=[sent.pk])).content.decode()
    assert "<dt>Price</dt><dd>$0.0075</dd>" in page
    assert "Why it failed" not in page


def test_recently_sent_rows_link_to_their_message_pages_without_a_zero_price(sent, staff):
    Message.objects.filter(pk=sent.pk).update(price=0, status=Status.FAILED)
    page = staff.get(reverse("messaging:send")).content.decode()
    assert f'<a href="/messaging/messages/{sent.pk}/?from=send">Your table is ready</a>' in page
    assert "$0" not in page


def test_a_sender_without_the_inbox_role_may_open_what_they_sent(sent):
    client = Client()
    client.force_login(make_user("sid", "Senders"))
    page = client.get(reverse("messaging:message", args=[sent.pk]) + "?from=send")
    assert page.status_code == 200
    assert "← Messaging" in page.content.decode()


def test_the_sending_banner_goes_once_the_status_is_final(webhook_url, staff, settings):
    staff.post(
        reverse("messaging:send"),
        {"from_did": MAIN_LINE, "to_did": "+1 212-555-0142", "message": "Hi"},
    )
    page = staff.get(reverse("messaging:send")).content.decode()
    assert "Sending to +1 212-555-0142; its status follows below." in page
    poll = staff.get(reverse("messaging:recent"), HTTP_HX_REQUEST="true").content.decode()
    assert 'hx-swap-oob="delete"' not in poll  # still sending: the banner stays

    Message.objects.update(status=Status.DELIVERED)
    poll = staff.get(reverse("messaging:recent"), HTTP_HX_REQUEST="true").content.decode()
    assert '<div id="sending-banner" hx-swap-oob="delete"></div>' in poll
    page = staff.get(reverse("messaging:send")).content.decode()
    assert "Sending to" not in page


def landline_failure(sent: Message) -> Message:
    """What the detail-record sync writes on a message the carrier failed: its code and reason."""
    Message.objects.filter(pk=sent.pk).update(
        status=Status.FAILED,
        vendor_error_code="4001",
        vendor_error_reason="The destination is a landline: it cannot receive texts.",
    )
    return Message.objects.get(pk=sent.pk)


def test_a_carrier_code_is_shown_with_its_meaning_wherever_the_failed_message_appears(sent, staff):
    landline_failure(sent)
    carrier_events.conversation_add_message(sent)
    line = "Error 4001: The number is a landline: it cannot receive texts."
    for url in (
        reverse("messaging:inbox"),
        reverse("messaging:messages"),
        reverse("messaging:conversation", args=[CUSTOMER]),
        reverse("messaging:send"),
    ):
        assert line in staff.get(url).content.decode(), url
    page = staff.get(reverse("messaging:message", args=[sent.pk])).content.decode()
    assert "error 4001, the number is a landline: it cannot receive texts." in page
    assert "Call them instead, or ask for a mobile number." in page


def test_an_unknown_code_shows_the_carriers_own_reason_beside_it(sent, staff):
    Message.objects.filter(pk=sent.pk).update(
        status=Status.FAILED, vendor_error_code="7777", vendor_error_reason="Spam filtered"
    )
    assert "Error 7777: Spam filtered" in staff.get(reverse("messaging:messages")).content.decode()


def test_a_failure_of_ours_shows_our_reason_in_the_list(sent, staff):
    Message.objects.filter(pk=sent.pk).update(
        status=Status.FAILED, error="Not sent: the customer texted STOP."
    )
    assert (
        "Not sent: the customer texted STOP."
        in staff.get(reverse("messaging:messages")).content.decode()
    )


def test_a_recovered_message_says_so_on_its_page(sent, staff):
    Message.objects.filter(pk=sent.pk).update(recovered=True, delay_sent=3)
    page = staff.get(reverse("messaging:message", args=[sent.pk])).content.decode()
    assert "Recovered from the carrier’s records" in page
    assert "3 s between CarrierX taking it and sending it" in page
