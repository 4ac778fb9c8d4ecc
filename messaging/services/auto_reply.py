"""Auto-reply per DID: the carrier tutorial's `sms_callback.py`, built in. The Auto-reply page
sets the rule (`auto_reply_set`); the worker answers each inbound text (`auto_reply_send`)."""

from __future__ import annotations

from datetime import timedelta

from django.db import IntegrityError
from django.utils import timezone

from messaging.models import AutoReply, Direction, Message
from messaging.services import outbound
from messaging.services.opt_out import opt_out_refusal
from phone_numbers.models import Did


class _KeepUnknown(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def render_reply(template: str, inbound: Message) -> str:
    """Fill `{status}`, `{from}`, `{to}` and `{message}`; anything else stays as typed."""
    values = _KeepUnknown(
        status=inbound.status,
        message=inbound.body,
        **{"from": inbound.their_number, "to": inbound.our_number},
    )
    try:
        return template.format_map(values)
    except (ValueError, IndexError, AttributeError):
        # A stray brace or "{0}" in a hand-written template: send it as written.
        return template


def auto_reply_skip_reason(inbound: Message, rule: AutoReply | None) -> str | None:
    if rule is None or not rule.enabled:
        return "auto-reply is off for this DID"
    if Did.objects.filter(phonenumber=inbound.their_number).exists():
        return "the sender is one of our own DIDs"
    if opt_out_refusal(customer=inbound.their_number, our_number=inbound.our_number):
        return "the customer opted out of this DID"
    if Message.objects.filter(auto_reply_to=inbound).exists():
        return "already answered"
    since = timezone.now() - timedelta(minutes=rule.min_interval_minutes)
    if Message.objects.filter(
        their_number=inbound.their_number, auto_reply_to__isnull=False, created_at__gte=since
    ).exists():
        return f"answered this customer within {rule.min_interval_minutes} minutes"
    return None


def auto_reply_send(*, message_id: int) -> str:
    """Answer one inbound message, through the normal send path, from the DID it was sent to."""
    inbound = Message.objects.filter(pk=message_id, direction=Direction.INBOUND).first()
    if inbound is None:
        return "no such inbound message"
    rule = AutoReply.objects.filter(did__phonenumber=inbound.our_number).first()
    reason = auto_reply_skip_reason(inbound, rule)
    if reason:
        return f"skipped: {reason}"
    try:
        reply = outbound.message_send(
            from_number=inbound.our_number,
            to=inbound.their_number,
            body=render_reply(rule.template, inbound),
            auto_reply_to=inbound,
        )
    except IntegrityError:
        # Another worker answered the same message at the same moment; the unique key held.
        return "skipped: already answered"
    return f"sent reply {reply.pk} ({reply.status})"


def auto_reply_set(
    *, did: Did, enabled: bool, template: str, min_interval_minutes: int
) -> AutoReply:
    """Turn the DID's auto-reply on or off and set its reply and pace (made on first use)."""
    rule, _ = AutoReply.objects.update_or_create(
        did=did,
        defaults={
            "enabled": enabled,
            "template": template,
            "min_interval_minutes": min_interval_minutes,
        },
    )
    return rule
