"""A campaign sent against the sandbox over HTTP: recipients read from a CSV, each texted once,
at its DID's pace, with its own variables."""

from __future__ import annotations

from decimal import Decimal

import pytest

from campaigns import services
from campaigns.models import Campaign, Recipient
from campaigns.recipients import read_csv, recipients_prepare
from messaging.models import Direction, Message
from phone_numbers.models import Did
from phone_numbers.sync import numbers_sync
from sandbox.models import SandboxMessage
from tests.conftest import run_tasks

pytestmark = pytest.mark.django_db(transaction=True)


def csv_of(rows: list[str], header: str = "First Name,Phone,Company") -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


@pytest.fixture
def pool(sandbox, settings):
    settings.CAMPAIGN_TICK_SECONDS = 30
    numbers_sync()
    dids = list(
        Did.objects.filter(released_at__isnull=True)
        .order_by("phonenumber")
        .values_list("phonenumber", flat=True)[:2]
    )
    assert len(dids) == 2
    return dids


def test_a_campaign_texts_each_recipient_once_with_their_own_variables(pool, sender):
    campaign = Campaign.objects.create(
        name="Spring",
        body="Hi {first_name} of {company}",
        dids=pool,
        created_by=sender,
        rate_per_did=Decimal(50),
    )
    people = read_csv(csv_of([f"Ann{i},+1 212 555 {i:04d},Acme{i}" for i in range(100, 130)]))
    counts = recipients_prepare(campaign, people)
    assert counts["send"] == 30
    services.campaign_start(campaign)
    run_tasks()
    campaign.refresh_from_db()
    assert campaign.state == Campaign.State.FINISHED
    at_carrier = list(SandboxMessage.objects.values_list("to_number", "message"))
    assert len(at_carrier) == 30
    assert len({to for to, _ in at_carrier}) == 30
    assert ("12125550117", "Hi Ann117 of Acme117") in at_carrier
    recipients = Recipient.objects.filter(campaign=campaign)
    assert all(r.state == Recipient.State.MESSAGED and r.message_id for r in recipients)
    assert (
        Message.objects.filter(direction=Direction.OUTBOUND, message_sid__isnull=False).count()
        == 30
    )
