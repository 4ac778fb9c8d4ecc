"""A send from one of our numbers whose SMS is not enabled (or that we released) is refused
before the carrier is called, with the reason."""

from __future__ import annotations

import pytest
from django.urls import reverse

from messaging.models import Message
from messaging.services.outbound import message_send
from phone_numbers.models import Did
from phone_numbers.sync import numbers_sync
from sandbox.models import SandboxMessage
from tests.conftest import make_user, run_tasks

pytestmark = pytest.mark.django_db(transaction=True)
MAIN_LINE = "15162065575"
CUSTOMER = "15162065574"


@pytest.fixture
def not_enabled(sandbox) -> Did:
    numbers_sync()
    Did.objects.filter(phonenumber=MAIN_LINE).update(
        active_capabilities=4, messaging_status="failed", messaging_enabled=True
    )
    return Did.objects.get(phonenumber=MAIN_LINE)


def test_a_queued_send_from_a_not_enabled_did_fails_with_the_reason_and_never_reaches_the_carrier(
    not_enabled,
):
    message = message_send(from_number=MAIN_LINE, to=CUSTOMER, body="Hello")
    run_tasks()

    message.refresh_from_db()
    assert message.status == "failed"
    assert "SMS is not enabled on +1 516-206-5575 (enablement failed)" in message.error
    assert not SandboxMessage.objects.exists()


def test_the_send_form_does_not_offer_or_accept_a_not_enabled_did(not_enabled, client):
    client.force_login(make_user("sam", "Senders"))

    page = client.get(reverse("messaging:send")).content.decode()
    answer = client.post(
        reverse("messaging:send"),
        {"from_did": MAIN_LINE, "to_did": "+1 516 206 5574", "message": "Hello"},
    )

    assert f'value="{MAIN_LINE}"' not in page
    assert answer.status_code == 422
    assert not Message.objects.exists()
    assert not SandboxMessage.objects.exists()


def test_a_queued_send_from_a_released_did_is_refused_before_the_carrier(sandbox):
    numbers_sync()
    Did.objects.filter(phonenumber=MAIN_LINE).update(released_at="2026-11-29T10:00:00Z")

    message = message_send(from_number=MAIN_LINE, to=CUSTOMER, body="Hello")
    run_tasks()

    message.refresh_from_db()
    assert message.status == "failed"
    assert "was released" in message.error
    assert not SandboxMessage.objects.exists()
