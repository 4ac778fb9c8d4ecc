"""Cursors: the live (htmx-polled) pages' "changed since", and keyset paging for every list.

A poll asks for what changed since a cursor. Rows are stamped in Python before their transaction
commits, so a slow commit can land a little behind a cursor already handed out; the cursor is
therefore kept a grace period behind the clock, and rows changed within it are sent again.
Re-sent rows replace themselves on the page (same id), so that costs a repaint, never a gap.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from django.db.models import QuerySet
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
        if parsed is None:
            return None
        if timezone.is_naive(parsed):
            parsed = timezone.make_aware(parsed, timezone.get_current_timezone())
        # The database compares in UTC: a time at the calendar's edge (year 1 or 9999) that
        # cannot be expressed there is no cursor.
        parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    return parsed


MAX_ID = 2**63 - 1  # the largest id a database column holds; beyond it SQLite overflows
_ID = re.compile(r"[0-9]{1,19}")


def parse_id(value: str | None) -> int | None:
    """A row id from a query string (`before`, `last`), or None when it cannot be one.
    `str.isdigit()` is not enough: it accepts `²`, which int() refuses."""
    if not value or not _ID.fullmatch(value):
        return None
    number = int(value)
    return number if number <= MAX_ID else None


def keyset_page(rows: QuerySet, *, size: int, before: str | None = None) -> tuple[list, bool]:
    """One page of `rows` (ordered newest first) and whether more follow: no OFFSET, no COUNT.

    `before` is the id the previous page ended at (rows below it follow); a compound key is
    applied by the caller first, as the inbox's (last activity, id) is. One row more than the
    page is read to know whether there is another.
    """
    if (last_id := parse_id(before)) is not None:
        rows = rows.filter(id__lt=last_id)
    fetched = list(rows[: size + 1])
    return fetched[:size], len(fetched) > size
