"""Sending and receiving SMS in the sandbox: validation, segment counting, and handing the rest of
the message's life to background tasks (never done inside the request)."""

from __future__ import annotations

import re

from django.db import transaction
from django.utils import timezone

from sandbox.api import validation_error
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


def _check_message(errors: list, value: object) -> str:
    if value is None or value == "":
        errors.append(("message", "is required"))
    elif not isinstance(value, str) or not value.strip():
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
    elif not did.can(capability):
        errors.append((field, f"{number} cannot {verb} SMS (messaging is not enabled on it)"))
    return did


def sms_send(*, partner: SandboxPartner, body: dict) -> SandboxMessage:
    """Validate a `POST /sms/messages` body (either field naming), store the queued message and
    enqueue its status progression. Raises a 422 ApiError naming every bad field."""
    errors: list[tuple[str | None, str]] = []
    from_field, raw_from = either(body, "from", "from_did")
    to_field, raw_to = either(body, "to", "to_did")
    from_number = _check_number(errors, from_field, raw_from)
    to_number = _check_number(errors, to_field, raw_to)
    text = _check_message(errors, body.get("message"))
    user_data = body.get("user_data")
    if user_data is not None and (
        not isinstance(user_data, str) or len(user_data) > MAX_USER_DATA_LENGTH
    ):
        errors.append(("user_data", f"must be text of at most {MAX_USER_DATA_LENGTH} characters"))
    for field in ("media_urls", "group_recipients"):
        if body.get(field):
            errors.append((field, "the sandbox sends SMS only, not MMS"))
    if from_number:
        _partner_did(errors, partner, from_field, from_number, SandboxDid.SEND_SMS, "send")
    if errors:
        raise validation_error(errors)

    message = SandboxMessage.objects.create(
        partner=partner,
        direction=SandboxMessage.Direction.OUTBOUND,
        status=SandboxMessage.Status.QUEUED,
        from_number=from_number,
        to_number=to_number,
        message=text,
        message_segments=message_segments(text),
        user_data=user_data,
    )
    transaction.on_commit(lambda: enqueue_step(message.message_sid, SandboxMessage.Status.QUEUED))
    return message


def sms_receive(*, partner: SandboxPartner, body: dict) -> SandboxMessage:
    """An SMS from a handset (`from`, any number) to one of the partner's DIDs (`to`): stored as
    received, and its callback enqueued. Raises a 422 ApiError naming every bad field."""
    errors: list[tuple[str | None, str]] = []
    from_field, raw_from = either(body, "from", "from_did")
    to_field, raw_to = either(body, "to", "to_did")
    from_number = _check_number(
        errors, from_field, digits_only(raw_from) if isinstance(raw_from, str) else raw_from
    )
    to_number = _check_number(
        errors, to_field, digits_only(raw_to) if isinstance(raw_to, str) else raw_to
    )
    text = _check_message(errors, body.get("message"))
    if to_number:
        _partner_did(errors, partner, to_field, to_number, SandboxDid.RECEIVE_SMS, "receive")
    if errors:
        raise validation_error(errors)

    now = timezone.now()
    segments = message_segments(text)
    message = SandboxMessage.objects.create(
        partner=partner,
        direction=SandboxMessage.Direction.INBOUND,
        status=SandboxMessage.Status.RECEIVED,
        from_number=from_number,
        to_number=to_number,
        message=text,
        message_segments=segments,
        price=SandboxMessage.PRICE_PER_SEGMENT * segments,
        date_created=now,
        date_changed=now,
        date_status_changed=now,
    )
    transaction.on_commit(lambda: deliver_inbound.enqueue(message.message_sid))
    return message
