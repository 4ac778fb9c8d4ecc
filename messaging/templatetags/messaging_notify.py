"""The notify poll's first cursor, written into every signed-in page (templates/base.html), so a
message that arrives while the page loads is still news to its first poll."""

from __future__ import annotations

from django import template

from messaging.selectors.paging import new_cursor

register = template.Library()


@register.simple_tag
def notify_cursor() -> str:
    return new_cursor()
