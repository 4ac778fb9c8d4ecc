"""Sending messages: save our row, call the carrier, record what it said."""

from __future__ import annotations

import logging

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from messaging.carrier_state import apply_sms
from messaging.conversations import conversation_record
from messaging.models import CallbackEvent, Direction, Message, Status
from portal.carrierx import CarrierXError, get_client

logger = logging.getLogger(__name__)

USER_DATA_PREFIX = "portal-message-"


def user_data_for(message: Message) -> str:
    """Our own id, sent along as `user_data`: the carrier echoes it, so callbacks and later
    reads can be tied to our row even before we know the carrier's SID."""
    return f"{USER_DATA_PREFIX}{message.pk}"


def message_id_from_user_data(user_data) -> int | None:
    if isinstance(user_data, str) and user_data.startswith(USER_DATA_PREFIX):
        tail = user_data.removeprefix(USER_DATA_PREFIX)
        return int(tail) if tail.isdigit() else None
    return None


def message_send(
    *,
    from_number: str,
    to: str,
    body: str,
    user: AbstractBaseUser | None = None,
    auto_reply_to: Message | None = None,
) -> Message:
    """Send one SMS. The row is saved before the carrier is called, so a crash never hides that we
    tried; a refusal or an unreachable carrier leaves the row `failed` with the reason in `error`.
    """
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
    try:
        sms = get_client().send_sms(
            from_=from_number, to=to, message=body, user_data=user_data_for(message)
        )
    except CarrierXError as err:
        logger.warning("send of message %s failed: %s", message.pk, err)
        message.status = Status.FAILED
        message.error = str(err)
        message.save(update_fields=["status", "error", "updated_at"])
        conversation_record(message, new=False)
        return message
    return message_record_sid(message_id=message.pk, sms=sms)


@transaction.atomic
def message_record_sid(*, message_id: int, sms: dict) -> Message:
    """Store the carrier's answer to our send on our row.

    A status callback can beat the send's own answer. When it carried our `user_data` the webhook
    already put the SID on our row; when it did not, it made a row of its own, which is folded in
    here: its events move to our row and the furthest status wins.
    """
    message = Message.objects.select_for_update().get(pk=message_id)
    sid = sms.get("message_sid") or ""
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
