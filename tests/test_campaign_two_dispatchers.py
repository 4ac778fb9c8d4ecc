"""Two dispatchers on one campaign (CAMPAIGN_DISPATCHERS=2), each in its own `manage.py db_worker`
on one PostgreSQL: nobody is texted twice, and together they keep each DID's pace (the pace row is
shared through the database). Needs PostgreSQL's row locks; SQLite serialises writers and would
prove nothing."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django_tasks_db.models import DBTaskResult

from campaigns import pacing, services
from campaigns.models import Campaign
from campaigns.recipients import read_pasted, recipients_prepare
from campaigns.tasks import campaign_dispatch_task
from messaging.models import Message
from phone_numbers.models import Did
from phone_numbers.sync import numbers_sync
from sandbox.faults import faults_update
from sandbox.models import SandboxMessage
from tests.test_campaign_control import CARRIER_COUNT_MARGIN, most_in_one_second
from tests.test_campaign_crash import start_worker, wait_for

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]

RECIPIENTS = 200
RATE = 10


@pytest.fixture(autouse=True)
def _on_postgresql_only(db) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: run with DATABASE_URL=postgres://…")


@pytest.mark.usefixtures("sandbox_stamps_at_its_edge")
def test_two_dispatchers_text_each_recipient_once_and_keep_each_dids_pace(
    sandbox, settings, sender, tmp_path
):
    settings.SANDBOX_STEP_SECONDS = 3600  # only what reaches the carrier counts
    settings.CAMPAIGN_DISPATCHERS = 2
    settings.CAMPAIGN_PACE_MARGIN = CARRIER_COUNT_MARGIN  # as the workers are told below
    numbers_sync()
    pool = list(
        Did.objects.filter(released_at__isnull=True)
        .order_by("phonenumber")
        .values_list("phonenumber", flat=True)[:2]
    )
    campaign = Campaign.objects.create(
        name="Two", body="Hi", dids=pool, created_by=sender, rate_per_did=Decimal(RATE)
    )
    numbers = "\n".join(f"+1212555{i:04d}" for i in range(RECIPIENTS))
    recipients_prepare(campaign, read_pasted(numbers))
    faults_update({"latency_seconds": 0.1})
    services.campaign_start(campaign)
    assert DBTaskResult.objects.filter(status="READY").count() == 2

    env = {
        "CAMPAIGN_DISPATCHERS": "2",
        "CAMPAIGN_PACE_MARGIN": str(CARRIER_COUNT_MARGIN),
        "CAMPAIGN_CLAIM_LEASE_SECONDS": "10",  # both live: neither takes the other's claims
    }
    workers = [start_worker(tmp_path / f"{w}.log", w, **env) for w in ("w1", "w2")]
    try:

        def finished() -> bool:
            return Campaign.objects.get(pk=campaign.pk).state == Campaign.State.FINISHED

        wait_for(finished, "the campaign to finish", tmp_path)
    finally:
        for worker in workers:
            worker.kill()
            worker.wait(timeout=30)

    texted = SandboxMessage.objects.filter(direction="outbound")
    assert texted.count() == RECIPIENTS
    assert texted.values("to_number").distinct().count() == RECIPIENTS
    # Both dispatchers sent, at the same time.
    runs = DBTaskResult.objects.filter(
        task_path=campaign_dispatch_task.module_path, status="SUCCESSFUL"
    )
    released = {}
    for run in runs:
        count = int(re.match(r"released (\d+)", run.return_value or "released 0").group(1))
        released[run.worker_ids[-1]] = released.get(run.worker_ids[-1], 0) + count
    assert released.get("w1") and released.get("w2"), released
    spans = {
        w: (
            min(r.started_at for r in runs if r.worker_ids[-1] == w),
            max(r.finished_at for r in runs if r.worker_ids[-1] == w),
        )
        for w in ("w1", "w2")
    }
    assert spans["w1"][0] < spans["w2"][1] and spans["w2"][0] < spans["w1"][1]
    # Each DID's pace, kept by the two together: at the carrier and at our side.
    for did in pool:
        # Counted as the carrier's rate limiter counts: when each request reached it, not when
        # the sandbox wrote its row after its injected latency and a busy database (CI once saw
        # 11 in one second by `date_created`: the sandbox's own delays, not the dispatchers').
        received = list(texted.filter(from_number=did).values_list("received_at", flat=True))
        assert most_in_one_second(received) <= RATE, did
        ours = Message.objects.filter(our_number=did, direction="outbound")
        assert most_in_one_second(list(ours.values_list("created_at", flat=True))) <= RATE
        # Shared, not kept by each: one pace row spaces all of a DID's calls a step apart, where
        # two paces would each take half the calls and finish in half the time. The first call
        # may arrive up to m/2 late plus its way there (it opens the connection): a second's
        # slack on a span of about 20 s, against 10 s for two paces.
        step = pacing.interval(RATE)
        shortest = (len(received) - 1) * step - timedelta(seconds=CARRIER_COUNT_MARGIN / 2 + 1)
        assert max(received) - min(received) >= shortest, did
