from __future__ import annotations

from django import template
from django.conf import settings
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from phone_numbers.selectors import portal_webhook_url
from portal.permissions import CHANGE_CALLBACKS

register = template.Library()

SECRET_MASK = "•••••"


@register.simple_tag(takes_context=True)
def callback_url(context: template.Context, url: str | None) -> str:
    """A callback URL as the viewer may see it, marked when it is this portal's webhook.

    The webhook URL carries the secret that lets anyone post fake messages into our inbox, so it
    is masked for everyone who cannot change callbacks (they have no use for it).
    """
    if not url:
        return mark_safe('<span class="muted">—</span>')
    user = context["request"].user
    secret = settings.CARRIERX_WEBHOOK_SECRET
    shown = url
    if secret and not user.has_perm(CHANGE_CALLBACKS):
        shown = url.replace(secret, SECRET_MASK)
    if url == portal_webhook_url():
        return format_html(
            '<code class="url">{}</code> <span class="badge badge-portal">this portal</span>', shown
        )
    return format_html('<code class="url">{}</code>', shown)


@register.simple_tag(takes_context=True)
def released_mark(context: template.Context, number: str) -> str:
    """A "released" badge after one of our numbers that we released (its messages stay readable).
    The released numbers are read once per template render."""
    from phone_numbers.models import Did

    cache = context.render_context
    if "released_numbers" not in cache:
        cache["released_numbers"] = set(
            Did.objects.filter(released_at__isnull=False).values_list("phonenumber", flat=True)
        )
    if number in cache["released_numbers"]:
        return mark_safe(' <span class="badge released">released</span>')
    return ""
