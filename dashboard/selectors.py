"""The dashboard's figures for a period and a set of our DIDs, read from DayTotal (a few hundred
rows for 30 days, however many messages there are) and, for campaigns, from their recipients."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.core.cache import cache
from django.db.models import Count, Exists, OuterRef, Q, Sum

from campaigns.models import Campaign, Recipient
from dashboard.models import DayTotal, Rollup
from dashboard.rollup import day_bounds
from messaging.failure_reasons import code_label
from messaging.models import Direction, Message, Status

CENT_FIFTHS = Decimal("0.00001")
CACHE_SECONDS = 300  # the carrier prices to 5 places


@dataclass
class Figures:
    days: list[date]
    inbound: list[int]
    outbound: list[int]
    delivered: list[int]
    failed: list[int]
    cost_by_day: list[Decimal]
    failures: list[tuple[str, str, int]]  # code, label, count
    cost_by_did: list[tuple[str, Decimal]]
    replies: list[tuple[Campaign, int, int]]  # campaign, texted, replied
    as_of: object  # datetime of the last recount, or None

    @property
    def delivery_rate(self) -> list[float | None]:
        """Delivered / (delivered + failed) per day, None on a day with neither."""
        return [
            (d / (d + f) if d + f else None)
            for d, f in zip(self.delivered, self.failed, strict=True)
        ]

    @property
    def totals(self) -> dict:
        finished = sum(self.delivered) + sum(self.failed)
        return {
            "inbound": sum(self.inbound),
            "outbound": sum(self.outbound),
            "delivery_rate": sum(self.delivered) / finished if finished else None,
            "failed": sum(self.failed),
            "cost": sum(self.cost_by_day, Decimal(0)),
        }


def figures_cached(first: date, last: date, dids: list[str]) -> Figures:
    """`figures`, kept in this process's cache until the totals are recounted (the key holds the
    recount's time) or for CACHE_SECONDS: staff reload and switch between the same few views,
    and nothing they show changes between recounts but the campaigns' replies, which may lag as
    much as the totals do."""
    recounted = Rollup.objects.filter(pk=Rollup.ROW).values_list("finished_at", flat=True).first()
    wanted = f"{first}|{last}|{','.join(sorted(dids))}|{recounted}"
    key = "dashboard:" + hashlib.sha256(wanted.encode()).hexdigest()
    data = cache.get(key)
    if data is None:
        data = figures(first, last, dids)
        cache.set(key, data, CACHE_SECONDS)
    return data


def figures(first: date, last: date, dids: list[str]) -> Figures:
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    index = {d: i for i, d in enumerate(days)}
    zeros = [0] * len(days)
    inbound, outbound, delivered, failed = list(zeros), list(zeros), list(zeros), list(zeros)
    cost_by_day = [Decimal(0)] * len(days)
    failures: dict[str, int] = defaultdict(int)
    cost_by_did: dict[str, Decimal] = defaultdict(Decimal)
    rows = (
        DayTotal.objects.filter(day__gte=first, day__lte=last, our_number__in=dids)
        .values_list("day", "our_number", "direction", "status", "error_code")
        .annotate(n=Sum("messages"), cost=Sum("cost"))
        .order_by()
    )
    for day, our_number, direction, status, code, n, cost in rows:
        i = index[day]
        cost = Decimal(cost or 0).quantize(CENT_FIFTHS)  # SQLite sums decimals as floats
        if direction == Direction.INBOUND:
            inbound[i] += n
        else:
            outbound[i] += n
            if status == Status.DELIVERED:
                delivered[i] += n
            elif status == Status.FAILED:
                failed[i] += n
                failures[code] += n
        cost_by_day[i] += cost
        cost_by_did[our_number] += cost
    rollup = Rollup.objects.filter(pk=Rollup.ROW).first()
    return Figures(
        days=days,
        inbound=inbound,
        outbound=outbound,
        delivered=delivered,
        failed=failed,
        cost_by_day=cost_by_day,
        failures=sorted(
            ((code, code_label(code), n) for code, n in failures.items()), key=lambda f: -f[2]
        ),
        cost_by_did=sorted(cost_by_did.items(), key=lambda item: -item[1]),
        replies=campaign_replies(first, last, dids),
        as_of=rollup.finished_at if rollup else None,
    )


def campaign_replies(first: date, last: date, dids: list[str]) -> list[tuple[Campaign, int, int]]:
    """Campaigns started in the period from these DIDs: recipients texted, and how many of them
    texted back afterwards (to the DID that texted them)."""
    start, end = day_bounds(first, last)
    replied = Message.objects.filter(
        direction=Direction.INBOUND,
        their_number=OuterRef("number"),
        our_number=OuterRef("our_number"),
        id__gt=OuterRef("message_id"),
    )
    rows = (
        Recipient.objects.filter(
            campaign__started_at__gte=start,
            campaign__started_at__lt=end,
            our_number__in=dids,
            message__isnull=False,
        )
        .annotate(replied=Exists(replied))
        .values("campaign_id")
        .annotate(texted=Count("id"), replies=Count("id", filter=Q(replied=True)))
        .order_by()
    )
    counts = {row["campaign_id"]: (row["texted"], row["replies"]) for row in rows}
    campaigns = Campaign.objects.filter(pk__in=counts).order_by("-started_at")
    return [(c, *counts[c.pk]) for c in campaigns]
