"""Sending and receiving SMS and MMS in the sandbox: validation, segment counting, and handing the
rest of the message's life (fetching media, statuses, callbacks) to background tasks (never done
inside the request)."""

from __future__ import annotations

import re
from datetime import datetime

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from sandbox.api import validation_error
from sandbox.media import (
    check_group_recipients,
    check_media_urls,
    media_store,
    storage_url,
    uploaded_media,
)
from sandbox.models import SandboxDid, SandboxMessage, SandboxPartner
from sandbox.tasks import deliver_inbound, enqueue_step
from sms_segments import count_segments

MAX_MESSAGE_LENGTH = 1600
MAX_USER_DATA_LENGTH = 1024
# ASCII digits only: `\d` would take any script's digits (١٥١٦…), which no carrier dials.
NUMBER = re.compile(r"[0-9]{10,15}")


def message_segments(text: str) -> int:
    """How many SMS parts the text takes. The GSM-7 / UCS-2 rules are the ones the portal's
    composer counts with: one table in the project, so the two never disagree."""
    return count_segments(text).segments


def either(body: dict, current: str, legacy: str) -> tuple[str, object]:
    """A field under its current name, else its legacy name (`from` / `from_did`), with the name
    it came under, so an error names the field the caller sent. With neither sent, the name
    follows the body's naming: a body with any legacy key is told about `from_did`."""
    if body.get(current) is not None:
        return current, body[current]
    if legacy in body or any(key in body for key in ("from_did", "to_did")):
        return legacy, body.get(legacy)
    return current, None


def digits_only(text: str) -> str:
    """People type `+1 (516) 206-5574`; the carrier writes `15162065574`."""
    return re.sub(r"[^0-9]", "", text)


def _check_number(errors: list, field: str, value: object) -> str:
    if value is None or value == "":
        errors.append((field, "is required"))
    elif not isinstance(value, str) or not NUMBER.fullmatch(value):
        errors.append((field, "must be 10 to 15 digits, E.164 without '+' (e.g. 15162065574)"))
    else:
        return value
    return ""


def _check_message(errors: list, value: object, *, optional: bool = False) -> str:
    """The text; `optional` for an MMS with media, which may have none (the carrier answers
    `message: null`)."""
    if value is None or value == "":
        if not optional:
            errors.append(("message", "is required"))
    elif not isinstance(value, str) or not (value.strip() or optional):
        errors.append(("message", "must be non-empty text"))
    elif "\x00" in value:
        errors.append(("message", "must not contain NUL characters"))
    elif len(value) > MAX_MESSAGE_LENGTH:
        errors.append(("message", f"must be at most {MAX_MESSAGE_LENGTH} characters"))
    else:
        return value
    return ""


def _partner_did(
    errors: list, partner: SandboxPartner, field: str, number: str, capability: int, verb: str
) -> SandboxDid | None:
    did = partner.dids.filter(phonenumber=number).first()
    if did is None:
        errors.append((field, f"{number} is not a DID of this partner"))
    elif capability in (SandboxDid.SEND_MMS, SandboxDid.RECEIVE_MMS) and not did.can(capability):
        errors.append(
            (field, f"{number} cannot {verb} MMS (its active capabilities lack {capability})")
        )
    elif not did.can(capability):
        errors.append((field, f"{number} cannot {verb} SMS (messaging is not enabled on it)"))
    return did


def sms_send(
    *, partner: SandboxPartner, body: dict, received_at: datetime | None = None
) -> SandboxMessage:
    """Validate a `POST /sms/messages` body (either field naming), store the queued message and
    enqueue its status progression. Raises a 422 ApiError naming every bad field.

    With `media_urls` or `group_recipients` it is an MMS (CARRIERX-MORE.md §4.1): one segment,
    text optional when there are media, sent only from a DID with the send-MMS bit; its media are
    fetched by the first background step, which fails the message if they break the limits.
    """
    errors: list[tuple[str | None, str]] = []
    from_field, raw_from = either(body, "from", "from_did")
    to_field, raw_to = either(body, "to", "to_did")
    from_number = _check_number(errors, from_field, raw_from)
    to_number = _check_number(errors, to_field, raw_to)
    media_urls = check_media_urls(errors, body.get("media_urls"))
    group = check_group_recipients(
        errors, body.get("group_recipients"), participants=(from_number, to_number)
    )
    is_mms = bool(media_urls or group)
    text = _check_message(errors, body.get("message"), optional=bool(media_urls))
    user_data = body.get("user_data")
    if user_data is not None and (
        not isinstance(user_data, str) or len(user_data) > MAX_USER_DATA_LENGTH
    ):
        errors.append(("user_data", f"must be text of at most {MAX_USER_DATA_LENGTH} characters"))
    if from_number:
        capability = SandboxDid.SEND_MMS if is_mms else SandboxDid.SEND_SMS
        _partner_did(errors, partner, from_field, from_number, capability, "send")
    if errors:
        raise validation_error(errors)

    message = SandboxMessage.objects.create(
        partner=partner,
        direction=SandboxMessage.Direction.OUTBOUND,
        status=SandboxMessage.Status.QUEUED,
        from_number=from_number,
        to_number=to_number,
        message=text,
        message_segments=1 if is_mms else message_segments(text),
        user_data=user_data,
        type=SandboxMessage.Type.MMS if is_mms else SandboxMessage.Type.SMS,
        media_urls=media_urls,
        group_recipients=group,
        received_at=received_at or timezone.now(),
    )
    transaction.on_commit(lambda: enqueue_step(message.message_sid, SandboxMessage.Status.QUEUED))
    return message


def sms_receive(
    *, partner: SandboxPartner, body: dict, uploads: list[UploadedFile] | None = None
) -> SandboxMessage:
    """A text from a handset (`from`, any number) to one of the partner's DIDs (`to`): stored as
    received, and its callback enqueued. Raises a 422 ApiError naming every bad field.

    An MMS brings `media_urls` (fetched in the background, before the callback; a fetch that
    fails marks the message failed and fires no callback) or `uploads` (kept at once), and maybe
    `group_recipients`; its `to` needs the receive-MMS bit.
    """
    errors: list[tuple[str | None, str]] = []
    from_field, raw_from = either(body, "from", "from_did")
    to_field, raw_to = either(body, "to", "to_did")
    from_number = _check_number(
        errors, from_field, digits_only(raw_from) if isinstance(raw_from, str) else raw_from
    )
    to_number = _check_number(
        errors, to_field, digits_only(raw_to) if isinstance(raw_to, str) else raw_to
    )
    media_urls = check_media_urls(errors, body.get("media_urls"))
    files = uploaded_media(errors, uploads or [])
    if media_urls and files:
        errors.append(("media", "send files or media_urls, not both"))
    group = check_group_recipients(
        errors, body.get("group_recipients"), participants=(from_number, to_number)
    )
    is_mms = bool(media_urls or files or group)
    text = _check_message(errors, body.get("message"), optional=bool(media_urls or uploads))
    if to_number:
        capability = SandboxDid.RECEIVE_MMS if is_mms else SandboxDid.RECEIVE_SMS
        _partner_did(errors, partner, to_field, to_number, capability, "receive")
    if errors:
        raise validation_error(errors)

    now = timezone.now()
    with transaction.atomic():
        message = SandboxMessage.objects.create(
            partner=partner,
            direction=SandboxMessage.Direction.INBOUND,
            status=SandboxMessage.Status.RECEIVED,
            from_number=from_number,
            to_number=to_number,
            message=text,
            message_segments=1 if is_mms else message_segments(text),
            type=SandboxMessage.Type.MMS if is_mms else SandboxMessage.Type.SMS,
            group_recipients=group,
            date_created=now,
            date_changed=now,
            date_status_changed=now,
            # Received is where an inbound text ends: its detail record is complete at once.
            date_sent=now,
            date_stop=now,
        )
        message.price = message.charge()
        if files:
            stored = media_store(message=message, files=files)
            message.media_urls = [storage_url(media) for media in stored]
        message.save(update_fields=["price", "media_urls"])
    # The URLs go with the task: the SMS object shows storage URLs only once the files are kept.
    transaction.on_commit(lambda: deliver_inbound.enqueue(message.message_sid, media_urls))
    return message
