"""The nav's unread badge: how many conversations hold messages this user has not read."""

from __future__ import annotations

from django.http import HttpRequest

from messaging.selectors.conversations import unread_conversation_count
from portal.permissions import VIEW_INBOX


def unread_badge(request: HttpRequest) -> dict:
    """Only for people who may read the inbox, and only what they may read."""
    user = getattr(request, "user", None)
    if user is None or not user.has_perm(VIEW_INBOX):
        return {"unread_conversations": 0}
    return {"unread_conversations": unread_conversation_count(user)}
