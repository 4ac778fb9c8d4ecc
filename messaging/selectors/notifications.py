"""The notify poll's reads: whether anything the person may see changed since a cursor, and the
new inbound texts their notification setting covers."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q

from messaging.models import Conversation, Direction, Message
from messaging.selectors.visibility import conversations_visible_to, messages_visible_to
from portal.models import UserPreferences

NotifyOn = UserPreferences.NotifyOn
NOTIFY_LIMIT = 5


def anything_changed(user, since: datetime) -> bool:
    """One probe of the conversations' `updated_at` index, as the inbox's own poll asks: a new
    text, a status, a read or an assignment all touch it."""
    return conversations_visible_to(user).filter(updated_at__gt=since).exists()


def notifiable_messages(user, since: datetime, notify_on: str) -> list[Message]:
    """Inbound texts created after `since` that `user` may read, in open conversations their
    setting covers (assigned to them; with Mine and Unassigned, also to nobody): the newest
    `NOTIFY_LIMIT`, oldest first. A conversation with a new text has a new `updated_at` too, so
    only the recently changed conversations are looked at."""
    if notify_on == NotifyOn.NONE:
        return []
    covered = Q(assignee=user)
    if notify_on == NotifyOn.MINE_AND_UNASSIGNED:
        covered |= Q(assignee__isnull=True)
    customers = Conversation.objects.filter(
        covered, state=Conversation.State.OPEN, updated_at__gt=since
    ).values("customer_number")
    inbound = Message.objects.filter(
        direction=Direction.INBOUND, created_at__gt=since, their_number__in=customers
    )
    newest = messages_visible_to(user, inbound).prefetch_related("media").order_by("-id")
    return list(newest[:NOTIFY_LIMIT])[::-1]
