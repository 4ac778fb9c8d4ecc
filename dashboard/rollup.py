"""Keeping DayTotal up to date: every few minutes the task worker recounts the last few days (late
callbacks and the detail-record sync change recent messages); the first run counts every day."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Case, CharField, Count, Min, Sum, Value, When
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from dashboard.models import DayTotal, Rollup
from messaging.models import Message, Status


def zone() -> ZoneInfo:
    """Days are counted in the portal's time zone (one set of totals for everyone)."""
    return ZoneInfo(settings.TIME_ZONE)


def day_bounds(first: date, last: date) -> tuple[datetime, datetime]:
    tz = zone()
    return (
        datetime.combine(first, time.min, tzinfo=tz),
        datetime.combine(last + timedelta(days=1), time.min, tzinfo=tz),
    )


@transaction.atomic
def days_recount(first: date, last: date) -> int:
    """Replace the totals of the days `first`..`last` with a fresh count of their messages."""
    start, end = day_bounds(first, last)
    rows = (
        Message.objects.filter(created_at__gte=start, created_at__lt=end)
        .annotate(
            day=TruncDate("created_at", tzinfo=zone()),
            # A code matters on a failed message only (a later callback may have delivered it).
            code=Case(
                When(status=Status.FAILED, then="vendor_error_code"),
                default=Value(""),
                output_field=CharField(),
            ),
        )
        .values("day", "our_number", "direction", "status", "code")
        .annotate(
            n=Count("id"),
            segs=Coalesce(Sum("segments"), 0),
            price=Sum("price"),
        )
        .order_by()
    )
    DayTotal.objects.filter(day__gte=first, day__lte=last).delete()
    totals = [
        DayTotal(
            day=row["day"],
            our_number=row["our_number"],
            direction=row["direction"],
            status=row["status"],
            error_code=row["code"] or "",
            messages=row["n"],
            segments=row["segs"],
            cost=row["price"] or 0,
        )
        for row in rows
    ]
    DayTotal.objects.bulk_create(totals, batch_size=1000)
    return len(totals)


def rollup_recent() -> str:
    """Recount the last DASHBOARD_RECOUNT_DAYS days; on the first run, every day there is."""
    today = timezone.localtime(timezone.now(), zone()).date()
    first = today - timedelta(days=settings.DASHBOARD_RECOUNT_DAYS - 1)
    if not Rollup.objects.exists():
        oldest = Message.objects.aggregate(first=Min("created_at"))["first"]
        if oldest is not None:
            first = min(first, timezone.localtime(oldest, zone()).date())
    rows = days_recount(first, today)
    days = (today - first).days + 1
    Rollup.objects.update_or_create(
        pk=Rollup.ROW, defaults={"finished_at": timezone.now(), "days": days}
    )
    return f"counted {days} days into {rows} totals"
