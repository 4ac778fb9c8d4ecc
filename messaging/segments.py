"""How many SMS segments a text costs, for the composer: the table and the counting live in the
Django-free `sms_segments` (shared with the sandbox carrier); the price is the portal's setting.

The composer's live counter (static/js/composer.js) reads `segment_table()` from the page, so the
characters in `sms_segments` are the only copy; tests/test_segments.py pins both against the same
boundaries.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.conf import settings

from sms_segments import (
    GSM7,
    GSM7_BASIC,
    GSM7_EXTENSION,
    LIMITS,
    UCS2,
    SegmentCount,
    count_segments,
    culprit_label,
    describe,
    format_cost,
    segment_table,
)

__all__ = [
    "GSM7",
    "GSM7_BASIC",
    "GSM7_EXTENSION",
    "LIMITS",
    "UCS2",
    "SegmentCount",
    "count_segments",
    "culprit_label",
    "describe",
    "format_cost",
    "price_per_segment",
    "segment_table",
]


def price_per_segment() -> Decimal | None:
    """What one segment costs, or None when we do not know.

    CarrierX's DID object carries no per-message price, so every DID costs the
    `SMS_PRICE_PER_SEGMENT` setting (empty: unknown, and the composer shows no cost).
    """
    raw = str(getattr(settings, "SMS_PRICE_PER_SEGMENT", "") or "").strip()
    if not raw:
        return None
    try:
        price = Decimal(raw)
    except InvalidOperation:
        return None
    return price if price.is_finite() and price >= 0 else None
