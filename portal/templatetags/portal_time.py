"""The one way the portal shows a moment: `{{ value|when }}`.

Within the last day it reads relative ("3 min ago"; up to a minute ahead, "in under a
minute"), older (or further ahead) it reads absolute
("Nov 29, 2026, 06:56 EST"); either way in the active time zone (the user's, see
portal.middleware) with the exact time and zone on hover.
"""

from __future__ import annotations

from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.html import format_html

register = template.Library()

ABSOLUTE = "M j, Y, H:i T"
EXACT = "M j, Y, H:i:s T"


def relative(moment: datetime, now: datetime) -> str | None:
    """The moment in words when it is within the last day, else None."""
    seconds = (now - moment).total_seconds()
    if seconds < -60 or seconds >= 86400:
        return None
    # No-break spaces: "just now" never splits over two lines in a narrow When column.
    if seconds < -5:  # an estimate a few seconds to a minute ahead (a small skew is "just now")
        return "in\u00a0under\u00a0a\u00a0minute"
    if seconds < 60:
        return "just\u00a0now"
    if seconds < 3600:
        return f"{int(seconds // 60)}\u00a0min\u00a0ago"
    return f"{int(seconds // 3600)}\u00a0h\u00a0ago"


@register.filter
def when(moment: datetime | None) -> str:
    if not moment:
        return ""
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, timezone.get_default_timezone())
    local = timezone.localtime(moment)
    shown = relative(moment, timezone.now()) or date_format(local, ABSOLUTE)
    return format_html(
        '<time datetime="{}" title="{}">{}</time>',
        moment.isoformat(),
        date_format(local, EXACT),
        shown,
    )
