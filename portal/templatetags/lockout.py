from __future__ import annotations

from datetime import timedelta

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_failure_limit
from django import template
from django.conf import settings
from django.utils import timezone
from django.utils.timesince import timeuntil

register = template.Library()


@register.filter
def duration(value: timedelta) -> str:
    """A timedelta in words, as `timeuntil` writes them: "30 minutes", "1 hour"."""
    now = timezone.now()
    return timeuntil(now + value, now)


@register.simple_tag(takes_context=True)
def sign_in_tries_left(context) -> str:
    """After a failed sign-in, how many tries remain before django-axes locks this name from this
    address: "2 tries left before this sign-in is locked for 30 minutes." Empty otherwise."""
    request, form = context.get("request"), context.get("form")
    if request is None or form is None or request.method != "POST" or not form.errors:
        return ""
    credentials = {settings.AXES_USERNAME_FORM_FIELD: form.data.get("username", "")}
    left = get_failure_limit(request, credentials) - AxesProxyHandler.get_failures(
        request, credentials
    )
    if left <= 0:
        return ""
    tries = "1 try" if left == 1 else f"{left} tries"
    cooloff = settings.AXES_COOLOFF_TIME
    until = f"for {duration(cooloff)}" if cooloff else "until an administrator unlocks it"
    return f"{tries} left before this sign-in is locked {until}."
