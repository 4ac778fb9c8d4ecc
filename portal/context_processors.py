from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def portal(request: HttpRequest) -> dict:
    return {"sandbox_mode": settings.CARRIERX_SANDBOX, "unread_conversations": _unread(request)}


def _unread(request: HttpRequest) -> int:
    """Conversations with unread messages, for the nav; only for people who may read them."""
    from messaging.selectors import unread_conversation_count

    user = getattr(request, "user", None)
    if user is None or not user.has_perm("messaging.view_inbox"):
        return 0
    return unread_conversation_count(user)  # only what this user may read
