"""Sending messages: save our row, then hand the carrier call to a background task."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from messaging.conversations import conversation_record
from messaging.models import Direction, Message, Status
from messaging.sending import send_message_task


def message_send(
    *,
    from_number: str,
    to: str,
    body: str,
    user: AbstractBaseUser | None = None,
    auto_reply_to: Message | None = None,
) -> Message:
    """Queue one SMS. The row is saved first, so nothing hides that we tried; the carrier is
    called by `send_message_task` (retries, reconciliation: see messaging/sending.py), so the
    page answers at once however slow the carrier is."""
    with transaction.atomic():
        message = Message.objects.create(
            direction=Direction.OUTBOUND,
            our_number=from_number,
            their_number=to,
            body=body,
            status=Status.SENDING,
            sent_by=user if user is not None and user.is_authenticated else None,
            auto_reply_to=auto_reply_to,
        )
        conversation_record(message, new=True)
        send_message_task.enqueue(message.pk)
    return message
