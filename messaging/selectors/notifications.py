"""The notify poll's reads: the new inbound texts a person's notification setting covers (whether
anything changed at all is the inbox list's question, `list_changed_sql`)."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q

from messaging.models import Conversation, Direction, Message
from messaging.selectors.visibility import messages_visible_to
from portal.models import UserPreferences

NotifyOn = UserPreferences.NotifyOn
NOTIFY_LIMIT = 5


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
