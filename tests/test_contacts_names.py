"""Names instead of bare numbers outside the inbox: the Messages list and its CSV export, a
campaign's report and its export. The number stays beside the name (staff dial numbers)."""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from campaigns.models import Campaign
from contacts.models import Contact
from messaging.models import Direction, Message, Status
from tests.test_campaign_pages import csv_upload, dids, new_campaign  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db
ANN = "12125550142"
BOB = "12125550143"
OUR = "15162065575"


def message(their, body="hi"):
    return Message.objects.create(
        our_number=OUR,
        their_number=their,
        body=body,
        direction=Direction.INBOUND,
        status=Status.RECEIVED,
    )


def csv_rows(response) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.fixture
def staff(client, inbox_staff):
    client.force_login(inbox_staff)
    return client


def test_the_messages_list_shows_the_contacts_name_beside_the_number(staff):
    Contact.objects.create(number=ANN, name="Ann Lee")
    to_ann, to_bob = message(ANN), message(BOB)
    page = staff.get(reverse("messaging:messages")).content.decode()
    ann_row = re.search(rf'<tr id="message-{to_ann.pk}">.*?</tr>', page, re.S).group(0)
    bob_row = re.search(rf'<tr id="message-{to_bob.pk}">.*?</tr>', page, re.S).group(0)
    assert '<span class="contact-name">Ann Lee</span>' in ann_row
    assert '<span class="muted small">+1 212-555-0142</span>' in ann_row
    assert "contact-name" not in bob_row and "+1 212-555-0143" in bob_row


def test_the_messages_list_reads_every_name_in_one_query(staff):
    for i in range(30):
        Contact.objects.create(number=f"1212555{i:04d}", name=f"P{i}")
        message(f"1212555{i:04d}")
    with CaptureQueriesContext(connection) as queries:
        staff.get(reverse("messaging:messages"))
    assert sum('"contacts_contact"' in q["sql"] for q in queries.captured_queries) == 1


def test_the_messages_export_has_a_customer_name_column(staff):
    Contact.objects.create(number=ANN, company="Acme")
    message(ANN)
    message(BOB)
    rows = csv_rows(staff.get(reverse("messaging:messages_export")))
    assert [(r["customer"], r["customer_name"]) for r in rows] == [(BOB, ""), (ANN, "Acme")]


def test_a_campaigns_report_and_export_name_the_recipients(sender_client, dids):  # noqa: F811
    Contact.objects.create(number=ANN, name="Ann Lee")
    data = b"First Name,Phone\nA,+1 212 555 0142\nB,+1 212 555 0143\n"
    new_campaign(sender_client, body="Hi {first_name}", recipients_file=csv_upload(data))
    campaign = Campaign.objects.get()
    page = sender_client.get(reverse("campaigns:report", args=[campaign.pk])).content.decode()
    assert 'Ann Lee <span class="muted small">+1 212-555-0142</span>' in page
    rows = csv_rows(sender_client.get(reverse("campaigns:export", args=[campaign.pk])))
    assert [(r["number"], r["contact_name"]) for r in rows] == [(ANN, "Ann Lee"), (BOB, "")]


def test_a_message_page_names_its_customer(staff):
    Contact.objects.create(number=ANN, name="Ann Lee")
    page = staff.get(reverse("messaging:message", args=[message(ANN).pk])).content.decode()
    assert (
        '<span class="contact-name">Ann Lee</span> <span class="muted small">+1 212-555-0142'
        in page
    )
