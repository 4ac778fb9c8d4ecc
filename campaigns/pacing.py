"""How fast and when: each DID's pace (slots a fixed interval apart, shared by every dispatcher
through the database) and quiet hours in the recipient's own time zone."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from phonenumbers import timezone as number_zones

from campaigns.models import Campaign, DidPace
from phone_numbers.models import Did


def did_rates(campaign: Campaign) -> dict[str, Decimal]:
    """Each pool DID's pace: the campaign's rate when it sets one, else the DID's own
    `send_rate`, else 1 a second (one read, and only when the campaign sets none)."""
    if campaign.rate_per_did:
        return dict.fromkeys(campaign.dids, campaign.rate_per_did)
    own = dict(
        Did.objects.filter(phonenumber__in=campaign.dids).values_list("phonenumber", "send_rate")
    )
    return {number: own.get(number) or Decimal(1) for number in campaign.dids}


def interval(rate: Decimal | float) -> timedelta:
    """Time between two sends from one DID at `rate` messages a second, stretched by
    CAMPAIGN_PACE_MARGIN: the carrier counts arrivals, and a send delayed on its way (a busy
    worker, the network) must not land in the same second as the `rate`-th one after it. With a
    margin of 0.1, `rate` + 1 sends span 1.1 s, so delays that differ by up to 0.1 s keep within
    the limit; the dispatcher spends at most half of that on lateness at our side."""
    return timedelta(seconds=(1 + settings.CAMPAIGN_PACE_MARGIN) / float(rate))


def slots_reserve(our_number: str, count: int, rate: Decimal | float) -> list[datetime]:
    """Take the next `count` send times of `our_number`: never earlier than now, each `1/rate`
    after the one before, continuing from the last time taken by anyone. The row lock makes two
    dispatchers (any process, any machine) queue up on one pace instead of each keeping its own."""
    if count <= 0:
        return []
    step = interval(rate)
    now = timezone.now()
    with transaction.atomic():
        pace, _ = DidPace.objects.select_for_update().get_or_create(
            our_number=our_number, defaults={"next_at": now}
        )
        first = max(now, pace.next_at)
        slots = [first + step * i for i in range(count)]
        pace.next_at = first + step * count
        pace.save(update_fields=["next_at"])
    return slots


@lru_cache(maxsize=4096)
def number_zones_of(number: str) -> tuple[ZoneInfo, ...]:
    """The time zones a number may be in (phonenumbers knows them by prefix); several for a
    number whose prefix spans zones, none when it knows nothing."""
    try:
        parsed = phonenumbers.parse("+" + number)
    except phonenumbers.NumberParseException:
        return ()
    zones = []
    for name in number_zones.time_zones_for_number(parsed):
        try:
            zones.append(ZoneInfo(name))
        except (ZoneInfoNotFoundError, ValueError):
            continue  # phonenumbers' "Etc/Unknown"
    return tuple(zones)


def _quiet_at(local: datetime, start: time, end: time) -> bool:
    clock = local.time()
    if start <= end:
        return start <= clock < end
    return clock >= start or clock < end  # across midnight, e.g. 21:00–08:00


def quiet_until(number: str, *, start: time, end: time, now: datetime) -> datetime | None:
    """When a text may reach `number` again, or None when it may now. A number whose prefix spans
    several zones waits until it is allowed in all of them (better an hour late than a text at
    night); one with no known zone is not held."""
    waits = []
    for zone in number_zones_of(number):
        local = now.astimezone(zone)
        if not _quiet_at(local, start, end):
            continue
        morning = datetime.combine(local.date(), end, tzinfo=zone)
        if morning <= local:
            morning += timedelta(days=1)
        waits.append(morning)
    return max(waits) if waits else None
