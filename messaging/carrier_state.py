"""How a CarrierX SMS object (a send answer, a GET, or a callback) updates our Message row."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from messaging.models import Message, status_rank


def _decimal(value) -> Decimal | None:
    try:
        return Decimal(str(value)) if value not in (None, "") else None
    except InvalidOperation:
        return None


def _int(value) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def apply_sms(message: Message, sms: dict) -> tuple[list[str], str]:
    """Copy what the carrier says onto `message` (not saved) and return (changed fields, outcome).

    Status only moves forward. Segments, price and network codes are filled in whenever the
    carrier reports them, even on a late event, since they never regress.
    """
    changed = []
    new_status = str(sms.get("status") or "")
    if status_rank(new_status) < 0:
        outcome = f"unknown status {new_status!r} kept, not applied" if new_status else "no status"
    elif status_rank(new_status) > status_rank(message.status):
        outcome = f"{message.status} → {new_status}"
        message.status = new_status
        changed.append("status")
        when = parse_datetime(sms.get("date_status_changed") or "") or timezone.now()
        message.status_changed_at = when
        changed.append("status_changed_at")
    elif new_status == message.status:
        outcome = f"duplicate ({new_status})"
    else:
        outcome = f"stale ({new_status} after {message.status}), ignored"

    for field, value in (
        ("segments", _int(sms.get("message_segments"))),
        ("price", _decimal(sms.get("price"))),
        ("mcc", _int(sms.get("mcc"))),
        ("mnc", _int(sms.get("mnc"))),
    ):
        if value is not None and getattr(message, field) != value:
            setattr(message, field, value)
            changed.append(field)
    return changed, outcome
