"""The pre-send landline check: what the carrier's lookup says a number is, asked for in the
background and kept for LOOKUP_CACHE_DAYS, so the composer can warn before a text goes to a line
that cannot receive it (the carrier would take it, charge for it, and fail it)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from messaging import tasks
from messaging.models import NumberLookup
from messaging.services.carrier_health import carrier_health_record
from portal.carrierx import CarrierXError, get_client

LINE_TYPES = {choice.value for choice in NumberLookup.LineType}
# A lookup asked for but not answered (the worker was down) may be asked for again after this.
RETRY_AFTER = timedelta(minutes=5)


def _fresh(lookup: NumberLookup) -> bool:
    if lookup.looked_up_at is None:
        return lookup.requested_at > timezone.now() - RETRY_AFTER
    return lookup.looked_up_at > timezone.now() - timedelta(days=settings.LOOKUP_CACHE_DAYS)


def lookup_cached(number: str) -> NumberLookup | None:
    """The kept answer for `number` (None when there is none yet); asks the task worker for one
    when there is none or it is old. Never calls the carrier itself: pages use it."""
    lookup = NumberLookup.objects.filter(number=number).first()
    if lookup is not None and _fresh(lookup):
        return lookup if lookup.looked_up_at else None
    now = timezone.now()
    try:
        with transaction.atomic():
            if lookup is None:
                NumberLookup.objects.create(number=number, requested_at=now)
            else:
                NumberLookup.objects.filter(pk=lookup.pk).update(requested_at=now)
            tasks.number_lookup_task.enqueue(number)
    except IntegrityError:
        pass  # another request asked for it at the same moment
    return lookup if lookup is not None and lookup.looked_up_at else None


def number_lookup(*, number: str) -> str:
    """Ask the carrier what `number` is and keep the answer."""
    try:
        answer = get_client().lookup_did(number, carrier=True)
    except CarrierXError as err:
        if not err.permanent:
            carrier_health_record(ok=False, error=str(err))
        NumberLookup.objects.filter(number=number).update(error=str(err)[:300])
        return f"lookup failed: {err}"
    carrier_health_record(ok=True)
    details = answer.get("details") if isinstance(answer, dict) else None
    carrier = details.get("carrier") if isinstance(details, dict) else None
    carrier = carrier if isinstance(carrier, dict) else {}
    line_type = str(carrier.get("type") or "").lower()
    NumberLookup.objects.update_or_create(
        number=number,
        defaults={
            "line_type": line_type if line_type in LINE_TYPES else "",
            "carrier_name": str(carrier.get("name") or "")[:200],
            "looked_up_at": timezone.now(),
            "requested_at": timezone.now(),
            "error": "",
        },
    )
    return f"{number} is {line_type or 'not known'}"
