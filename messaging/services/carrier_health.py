"""Recording whether the carrier answered our last call (selectors.messages reads it)."""

from __future__ import annotations

from django.db.models import F
from django.utils import timezone

from messaging.models import CarrierHealth


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
    if not CarrierHealth.objects.filter(pk=CarrierHealth.ROW).update(**changes):
        CarrierHealth.objects.get_or_create(pk=CarrierHealth.ROW)
        CarrierHealth.objects.filter(pk=CarrierHealth.ROW).update(**changes)
