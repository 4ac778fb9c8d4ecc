from __future__ import annotations

from datetime import timedelta

from django import template
from django.utils import timezone
from django.utils.timesince import timeuntil

register = template.Library()


@register.filter
def duration(value: timedelta) -> str:
    """A timedelta in words, as `timeuntil` writes them: "30 minutes", "1 hour"."""
    now = timezone.now()
    return timeuntil(now + value, now)
