"""Keeping each customer's conversation row in step with its messages."""

from __future__ import annotations

from django.db.models import F
from django.utils import timezone

from messaging.models import Conversation, Direction, Message


def conversation_record(message: Message, *, new: bool) -> None:
    """Bring the customer's conversation up to date after `message` was created (`new`) or
    changed. Every call bumps `updated_at`, which is what open inboxes poll for."""
    now = timezone.now()
    if not new:
        # A status change: the conversation exists (the message made it); just mark it changed.
        Conversation.objects.filter(customer_number=message.their_number).update(updated_at=now)
        return
    conversation, _ = Conversation.objects.get_or_create(
        customer_number=message.their_number,
        defaults={"last_activity_at": message.created_at},
    )
    changes: dict = {"updated_at": now}
    # Callbacks can arrive out of order: only a newer message becomes the last one.
    if conversation.last_message_id is None or message.pk > conversation.last_message_id:
        changes["last_message"] = message
        changes["last_activity_at"] = max(conversation.last_activity_at, message.created_at)
        if message.direction == Direction.INBOUND:
            changes["last_inbound_did"] = message.our_number
    if message.direction == Direction.INBOUND:
        changes["unread_count"] = F("unread_count") + 1
    Conversation.objects.filter(pk=conversation.pk).update(**changes)


def conversation_mark_read(customer_number: str) -> None:
    Conversation.objects.filter(customer_number=customer_number, unread_count__gt=0).update(
        unread_count=0, updated_at=timezone.now()
    )
