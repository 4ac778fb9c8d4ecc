"""Tying the carrier's copy of a message to our row: our id travels as `user_data`, and the
carrier's answer (or an early callback) brings its SID."""

from __future__ import annotations

from django.db import transaction

from messaging.carrier_state import apply_sms
from messaging.conversations import conversation_record
from messaging.models import CallbackEvent, Message
from messaging.validation import MAX_SID, bounded_text, lenient

USER_DATA_PREFIX = "portal-message-"


def user_data_for(message: Message) -> str:
    """Our own id, sent along as `user_data`: the carrier echoes it, so callbacks and later
    reads can be tied to our row even before we know the carrier's SID."""
    return f"{USER_DATA_PREFIX}{message.pk}"


def message_id_from_user_data(user_data) -> int | None:
    if isinstance(user_data, str) and user_data.startswith(USER_DATA_PREFIX):
        tail = user_data.removeprefix(USER_DATA_PREFIX)
        # ASCII digits only (`isdigit` alone takes `²`, which int() refuses) and few enough to
        # be a primary key: a longer one would overflow the query.
        if tail.isascii() and tail.isdigit() and len(tail) <= 18:
            return int(tail)
    return None


@transaction.atomic
def message_record_sid(*, message_id: int, sms: dict) -> Message:
    """Store the carrier's answer to our send on our row.

    A status callback can beat the send's own answer. When it carried our `user_data` the webhook
    already put the SID on our row; when it did not, it made a row of its own, which is folded in
    here: its events move to our row and the furthest status wins.
    """
    message = Message.objects.select_for_update().get(pk=message_id)
    sid = lenient(lambda v: bounded_text(v, limit=MAX_SID), sms.get("message_sid")) or ""
    early = (
        Message.objects.select_for_update().filter(message_sid=sid).exclude(pk=message.pk).first()
        if sid
        else None
    )
    if early is not None:
        CallbackEvent.objects.filter(message=early).update(message=message)
        early_state = {
            "status": early.status,
            "date_status_changed": early.status_changed_at.isoformat()
            if early.status_changed_at
            else None,
        }
        early.delete()
        apply_sms(message, early_state)
    message.message_sid = sid or None
    apply_sms(message, sms)
    message.save()
    conversation_record(message, new=False)
    return message
