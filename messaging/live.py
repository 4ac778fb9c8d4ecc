"""Cursors for live (htmx-polled) pages.

A poll asks for what changed since a cursor. Rows are stamped in Python before their transaction
commits, so a slow commit can land a little behind a cursor already handed out; the cursor is
therefore kept a grace period behind the clock, and rows changed within it are sent again.
Re-sent rows replace themselves on the page (same id), so that costs a repaint, never a gap.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.dateparse import parse_datetime

GRACE = timedelta(seconds=2)


def new_cursor() -> str:
    return (timezone.now() - GRACE).isoformat()


def parse_cursor(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parse_datetime(value)
    except ValueError:
        return None
    if parsed is not None and timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, timezone.get_current_timezone())
    return parsed
