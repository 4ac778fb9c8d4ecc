"""What every webhook robustness test checks afterwards: the pages that list what the carrier sent
still answer, and the export holds every message (issue 10: one bad callback broke them all)."""

from __future__ import annotations

import csv
import io
import re
from uuid import uuid4

from django.test import Client

from messaging.models import CarrierEvent, Conversation, Message
from tests.conftest import make_user

CARRIER_DIGITS = re.compile(r"\d{3,15}")


def post_body(client: Client, url: str, body: bytes, content_type: str = "application/json"):
    return client.post(url, data=body, content_type=content_type)


def last_event() -> CarrierEvent:
    return CarrierEvent.objects.order_by("-id").first()


def assert_pages_answer_and_export_holds_every_message() -> None:
    client = Client()
    client.force_login(make_user(f"checker-{uuid4().hex[:8]}", superuser=True))
    for url in ("/messaging/inbox/", "/messaging/messages/"):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
    for customer in Conversation.objects.values_list("customer_number", flat=True):
        assert CARRIER_DIGITS.fullmatch(customer), customer
        response = client.get(f"/messaging/inbox/{customer}/")
        assert response.status_code == 200, (customer, response.status_code)
    for pk, ours, theirs in Message.objects.values_list("pk", "our_number", "their_number"):
        assert CARRIER_DIGITS.fullmatch(ours) and CARRIER_DIGITS.fullmatch(theirs), (ours, theirs)
        response = client.get(f"/messaging/messages/{pk}/")
        assert response.status_code == 200, (pk, response.status_code)
    response = client.get("/messaging/messages/export.csv")
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8")
    rows = list(csv.reader(io.StringIO(text)))[1:]
    assert sorted(int(row[0]) for row in rows) == sorted(
        Message.objects.values_list("pk", flat=True)
    )
