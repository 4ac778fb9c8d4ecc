"""The Prometheus counters every part of the portal adds to (read at `/metrics`, ops/views.py).

Counted where things happen, in the process they happen in (web or worker). With several
processes on a machine, set PROMETHEUS_MULTIPROC_DIR (an empty directory per machine, cleared at
start) and each process writes its counts there for the scrape to add up; Prometheus scrapes each
machine. What the database already knows (queue depth and age, workers alive) is read at scrape
time instead, so every machine reports the same figures.
"""

from __future__ import annotations

import re

from prometheus_client import Counter, Histogram

MESSAGES_SENT = Counter(
    "portal_messages_sent", "Messages the carrier accepted from us, by our DID", ["did"]
)
MESSAGES_FAILED = Counter(
    "portal_messages_failed", "Outbound messages that ended failed, by our DID", ["did"]
)
MESSAGES_RECEIVED = Counter(
    "portal_messages_received", "Inbound messages received, by our DID", ["did"]
)
WEBHOOK_REQUESTS = Counter(
    "portal_webhook_requests", "Carrier callbacks answered, by HTTP status", ["status"]
)
WEBHOOK_SECONDS = Histogram(
    "portal_webhook_seconds",
    "Time to answer a carrier callback",
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
CARRIER_REQUESTS = Counter(
    "portal_carrier_requests",
    "Calls to the carrier, by method, endpoint and HTTP status (0: no answer)",
    ["method", "endpoint", "status"],
)
CARRIER_SECONDS = Histogram(
    "portal_carrier_seconds",
    "Time of a call to the carrier",
    ["method", "endpoint"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30),
)

# An id in a path (a SID, a number): replaced so one endpoint is one label, not one per message.
_ID_PART = re.compile(r"^(?=.*[0-9])[0-9A-Za-z-]{6,}$")


def endpoint(path_or_url: str) -> str:
    """`sms/messages/5f3c…` → `sms/messages/{id}`; a full next-page URL → its API path."""
    path = path_or_url.split("?", 1)[0]
    path = path.split("/core/v2/", 1)[-1].strip("/")
    return "/".join("{id}" if _ID_PART.match(part) else part for part in path.split("/"))[:80]
