"""`/metrics`: Prometheus text behind a token, and counters that move with what happens."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from messaging.models import Message
from phone_numbers.sync import numbers_sync
from tests.conftest import load_fixture, run_tasks

TOKEN = "scrape-token-for-tests"
OUR_DID = "15162065575"


@pytest.fixture
def metrics_on(settings):
    settings.METRICS_TOKEN = TOKEN


def scrape(client) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def value(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_are_off_without_a_token_or_allow_list(client, db):
    assert client.get("/metrics").status_code == 404


def test_a_scrape_without_the_token_is_refused(client, db, metrics_on):
    assert client.get("/metrics").status_code == 401
    wrong = client.get("/metrics", HTTP_AUTHORIZATION="Bearer not-the-token")
    assert wrong.status_code == 401
    assert b"portal_" not in wrong.content


def test_an_allowed_address_may_scrape_without_a_token(client, db, settings):
    settings.METRICS_ALLOWED_IPS = ["127.0.0.1"]
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200 and b"portal_task_queue_depth" in response.content
    assert client.get("/metrics", REMOTE_ADDR="10.9.9.9").status_code == 401


def test_an_inbound_callback_moves_received_and_webhook_counters(
    client, db, metrics_on, webhook_url
):
    before = scrape(client)
    body = load_fixture("inbound_legacy")
    response = client.post(webhook_url, body, content_type="application/json")
    assert response.status_code == 200
    after = scrape(client)
    did = body["to_did"]
    received = "portal_messages_received_total"
    assert value(after, received, did=did) == value(before, received, did=did) + 1
    requests = "portal_webhook_requests_total"
    assert value(after, requests, status="200") == value(before, requests, status="200") + 1
    count = "portal_webhook_seconds_count"
    assert value(after, count) == value(before, count) + 1


def test_a_refused_callback_is_counted_under_its_status(client, db, metrics_on, webhook_url):
    before = scrape(client)
    client.post(webhook_url, b"[1,2", content_type="application/json")
    after = scrape(client)
    name = "portal_webhook_requests_total"
    assert value(after, name, status="400") == value(before, name, status="400") + 1


def test_a_send_moves_sent_and_carrier_call_counters_and_the_queue_gauge(
    client, sandbox, sender_client, metrics_on
):
    numbers_sync()
    before = scrape(client)
    sender_client.post(
        "/messaging/", {"from_did": OUR_DID, "to_did": "+1 516 206 5574", "message": "Hi"}
    )
    queued = scrape(client)
    assert value(queued, "portal_task_queue_depth") >= 1
    run_tasks()
    after = scrape(client)
    assert Message.objects.get().status == "delivered"
    sent = "portal_messages_sent_total"
    assert value(after, sent, did=OUR_DID) == value(before, sent, did=OUR_DID) + 1
    posts = "portal_carrier_requests_total"
    labels = {"method": "POST", "endpoint": "sms/messages", "status": "200"}
    assert value(after, posts, **labels) == value(before, posts, **labels) + 1
    assert value(after, "portal_carrier_seconds_count", method="POST", endpoint="sms/messages") > 0
    assert value(after, "portal_task_queue_depth") == 0


def test_a_failed_message_is_counted_by_its_did(client, db, metrics_on, webhook_url):
    from messaging.models import Direction

    Message.objects.create(
        message_sid="sid-fails",
        direction=Direction.OUTBOUND,
        our_number=OUR_DID,
        their_number="15162065574",
        status="sent",
    )
    before = scrape(client)
    client.post(
        webhook_url,
        {
            "message_sid": "sid-fails",
            "status": "failed",
            "direction": "outbound",
            "from": OUR_DID,
            "to": "15162065574",
        },
        content_type="application/json",
    )
    after = scrape(client)
    name = "portal_messages_failed_total"
    assert value(after, name, did=OUR_DID) == value(before, name, did=OUR_DID) + 1


def test_campaign_progress_is_scraped_by_campaign_and_state_and_moves_as_it_sends(
    client, sandbox, sender, metrics_on
):
    from decimal import Decimal

    from campaigns import services
    from campaigns.models import Campaign
    from campaigns.recipients import read_pasted, recipients_prepare

    numbers_sync()
    campaign = Campaign.objects.create(
        name="Metrics", body="Hi", dids=[OUR_DID], created_by=sender, rate_per_did=Decimal(50)
    )
    recipients_prepare(campaign, read_pasted("+1 212 555 0101\n+1 212 555 0102\nnot a number"))
    services.campaign_start(campaign)
    label = str(campaign.pk)
    started = scrape(client)
    assert value(started, "portal_campaign_recipients", campaign=label, state="pending") == 2
    assert value(started, "portal_campaign_recipients", campaign=label, state="removed") == 0
    services.campaign_pause(campaign)
    campaign.refresh_from_db()
    services.campaign_resume(campaign)
    run_tasks()
    done = scrape(client)
    # Finished campaigns leave the gauge: only active ones are reported.
    assert Campaign.objects.get().state == Campaign.State.FINISHED
    assert value(done, "portal_campaign_recipients", campaign=label, state="pending") == 0
    assert value(done, "portal_campaign_recipients", campaign=label, state="messaged") == 0
