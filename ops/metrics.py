"""Gauges read from the database at scrape time: the same on every machine, whichever answers."""

from __future__ import annotations

from django.db.models import Count
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily

from campaigns.models import Campaign, Recipient
from ops.health import queue_facts, worker_facts


class DatabaseFacts:
    """Queue depth and age, and worker heartbeats, as Prometheus gauges."""

    _registry: CollectorRegistry | None = None

    @classmethod
    def registry(cls) -> CollectorRegistry:
        if cls._registry is None:
            cls._registry = CollectorRegistry()
            cls._registry.register(cls())
        return cls._registry

    def collect(self):
        queue, workers = queue_facts(), worker_facts()
        yield _gauge("portal_task_queue_depth", "Tasks ready to run", queue["depth"])
        yield _gauge(
            "portal_task_queue_oldest_seconds",
            "How long the oldest ready task has waited (0 when none)",
            queue["oldest_age_seconds"] or 0,
        )
        yield _gauge(
            "portal_worker_heartbeat_age_seconds",
            "Age of the newest task worker heartbeat (-1 when no worker ever beat)",
            -1 if workers["heartbeat_age_seconds"] is None else workers["heartbeat_age_seconds"],
        )
        yield _gauge("portal_workers_alive", "Workers with a recent heartbeat", workers["alive"])
        yield campaign_progress()


ACTIVE = [Campaign.State.SCHEDULED, Campaign.State.RUNNING, Campaign.State.PAUSED]


def campaign_progress() -> GaugeMetricFamily:
    """Recipients of each scheduled, running or paused campaign by state (waiting, sending,
    sent, opted out, cancelled; removed ones are left out): one grouped count."""
    gauge = GaugeMetricFamily(
        "portal_campaign_recipients",
        "Recipients of active campaigns, by campaign and state",
        labels=["campaign", "state"],
    )
    rows = (
        Recipient.objects.filter(campaign__state__in=ACTIVE)
        .exclude(state=Recipient.State.REMOVED)
        .values_list("campaign_id", "state")
        .annotate(n=Count("id"))
        .order_by()
    )
    for campaign_id, state, n in rows:
        gauge.add_metric([str(campaign_id), state], n)
    return gauge


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    gauge = GaugeMetricFamily(name, documentation)
    gauge.add_metric([], value)
    return gauge
