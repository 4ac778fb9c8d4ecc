"""How a CarrierX SMS object (a send answer, a GET, or a callback) updates our Message row."""

from __future__ import annotations

from collections.abc import Mapping

from django.utils import timezone

from messaging import validation
from messaging.models import Message, status_rank
from messaging.validation import lenient


def _network_code(value: object) -> int | None:
    return validation.count(value, maximum=validation.MAX_NETWORK_CODE)


def apply_sms(message: Message, sms: Mapping) -> tuple[list[str], str]:
    """Copy what the carrier says onto `message` (not saved) and return (changed fields, outcome).

    Status only moves forward. Segments, price and network codes are filled in whenever the
    carrier reports them, even on a late event, since they never regress.

    Every value goes through `messaging.validation` leniently: the webhook hands over values it
    already checked (cleaning them again changes nothing), while the carrier's answers to our own
    calls arrive unchecked, and one odd field there must neither fail a send nor reach a column
    that cannot hold it.
    """
    changed = []
    new_status = sms.get("status")
    new_status = (
        lenient(lambda v: validation.bounded_text(v, limit=validation.MAX_STATUS), new_status) or ""
    )
    if status_rank(new_status) < 0:
        outcome = f"unknown status {new_status!r} kept, not applied" if new_status else "no status"
    elif status_rank(new_status) > status_rank(message.status):
        outcome = f"{message.status} → {new_status}"
        message.status = new_status
        changed.append("status")
        when = lenient(validation.moment, sms.get("date_status_changed")) or timezone.now()
        message.status_changed_at = when
        changed.append("status_changed_at")
    elif new_status == message.status:
        outcome = f"duplicate ({new_status})"
    else:
        outcome = f"stale ({new_status} after {message.status}), ignored"

    for field, value in (
        ("segments", lenient(validation.count, sms.get("message_segments"))),
        ("price", lenient(validation.price, sms.get("price"))),
        ("mcc", lenient(_network_code, sms.get("mcc"))),
        ("mnc", lenient(_network_code, sms.get("mnc"))),
    ):
        if value is not None and getattr(message, field) != value:
            setattr(message, field, value)
            changed.append(field)
    return changed, outcome
