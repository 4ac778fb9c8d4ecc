from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def portal(request: HttpRequest) -> dict:
    return {"sandbox_mode": settings.CARRIERX_SANDBOX, "unread_conversations": _unread(request)}


def _unread(request: HttpRequest) -> int:
    """Conversations with unread messages, for the nav; only for people who may read them."""
    from messaging.models import Conversation

    user = getattr(request, "user", None)
    if user is None or not user.has_perm("messaging.view_inbox"):
        return 0
    return Conversation.objects.filter(unread_count__gt=0).count()
