"""Whether the carrier has been answering us lately."""

from __future__ import annotations

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from messaging.models import CarrierHealth

HEALTH_ROW = 1


def carrier_health_record(*, ok: bool, error: str = "") -> None:
    if ok:
        changes = {"consecutive_failures": 0, "last_success_at": timezone.now()}
    else:
        changes = {
            "consecutive_failures": F("consecutive_failures") + 1,
            "last_error": error[:2000],
            "last_failure_at": timezone.now(),
        }
    # One UPDATE per carrier call; the row is created only the first time.
    if not CarrierHealth.objects.filter(pk=HEALTH_ROW).update(**changes):
        CarrierHealth.objects.get_or_create(pk=HEALTH_ROW)
        CarrierHealth.objects.filter(pk=HEALTH_ROW).update(**changes)


def carrier_unavailable() -> CarrierHealth | None:
    """The health row when repeated calls have failed, else None."""
    health = CarrierHealth.objects.filter(pk=HEALTH_ROW).first()
    if health and health.consecutive_failures >= settings.CARRIER_UNAVAILABLE_AFTER:
        return health
    return None
