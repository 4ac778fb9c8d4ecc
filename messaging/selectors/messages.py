"""Reads of messages: the Messages list's search and export, recent sends, a message's events,
an MMS's files and group as pages show them, and whether the carrier has been answering."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db.models import QuerySet, prefetch_related_objects
from django.utils import timezone

from messaging import media_files
from messaging.failure_reasons import reason_for
from messaging.models import (
    INLINE_IMAGE_TYPES,
    CarrierHealth,
    Direction,
    MediaState,
    Message,
    MessageMedia,
    Status,
)
from messaging.selectors.visibility import messages_visible_to
from portal.phones import format_number, number_matches

RECENT_LIMIT = 20


def _day_start(day: date) -> datetime:
    """Midnight of `day` in the site's time zone (the days people pick are local days)."""
    return timezone.make_aware(datetime.combine(day, time.min))


def messages_matching(user, cleaned: dict) -> QuerySet[Message]:
    """The messages a valid `MessageFilterForm` asks for that `user` may read, newest first."""
    messages = Message.objects.all()
    if cleaned.get("our_did"):
        messages = messages.filter(our_number=cleaned["our_did"])
    if cleaned.get("customer"):
        messages = messages.filter(number_matches("their_number", cleaned["customer"]))
    if cleaned.get("direction"):
        messages = messages.filter(direction=cleaned["direction"])
    if cleaned.get("status"):
        messages = messages.filter(status=cleaned["status"])
    if cleaned.get("date_from"):
        messages = messages.filter(created_at__gte=_day_start(cleaned["date_from"]))
    if cleaned.get("date_to"):
        # Inclusive: everything before the next local midnight.
        messages = messages.filter(
            created_at__lt=_day_start(cleaned["date_to"] + timedelta(days=1))
        )
    if cleaned.get("text"):
        messages = messages.filter(body__icontains=cleaned["text"])
    return messages_visible_to(user, messages.order_by("-id"))


def recent_sends(user) -> QuerySet[Message]:
    """The Messaging page's list: the latest outbound messages `user` may read."""
    outbound = Message.objects.filter(direction=Direction.OUTBOUND)
    return messages_visible_to(user, outbound).select_related("sent_by")[:RECENT_LIMIT]


def _pretty(body: str) -> tuple[object, str]:
    """A stored body, parsed, and pretty-printed as UTF-8 (👋, not `\\ud83d\\udc4b`)."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return None, body
    pretty = json.dumps(parsed, indent=2, sort_keys=True, ensure_ascii=False)
    try:
        pretty.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate escape (`\\ud83d` alone) has no UTF-8 form: keep it escaped.
        pretty = json.dumps(parsed, indent=2, sort_keys=True)
    return parsed, pretty


def message_events(message: Message) -> list[dict]:
    """What the carrier sent about `message`, oldest first, each body pretty-printed when JSON."""
    events = []
    for event in message.events.order_by("id"):
        parsed, pretty = _pretty(event.body)
        events.append({"event": event, "json": pretty, "parsed": parsed})
    return events


# Fields in which carriers report why a message failed. CarrierX documents none for SMS objects
# (its detail records carry `vendor_error_code`), so every likely name is looked for.
ERROR_FIELDS = (
    "error",
    "error_message",
    "error_code",
    "errors",
    "vendor_error_code",
    "status_reason",
    "reason",
    "description",
)
SHOWN_VALUE_LIMIT = 300


def _shown(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")  # a lone surrogate, escaped
    return text if len(text) <= SHOWN_VALUE_LIMIT else text[: SHOWN_VALUE_LIMIT - 1] + "…"


def failure_report(message: Message, events: list[dict]) -> dict | None:
    """Why a failed message failed: the carrier's status and error fields as it sent them (the
    newest report of each field wins), and the same in words. None unless the message failed."""
    if message.status != Status.FAILED:
        return None
    fields: dict[str, str] = {}
    for item in reversed(events):
        body = item["parsed"]
        if not isinstance(body, dict):
            continue
        for name in ERROR_FIELDS:
            value = body.get(name)
            if value not in (None, "", [], {}) and name not in fields:
                fields[name] = _shown(value)
    return {"fields": list(fields.items()), "words": _in_words(message, fields)}


def _in_words(message: Message, fields: dict[str, str]) -> str:
    known = reason_for(message.vendor_error_code)
    if message.vendor_error_code:
        # From the carrier's detail record of it: the surest word on why.
        meaning = known.meaning if known else message.vendor_error_reason or "a code not known here"
        advice = known.advice if known else "Check that the number can receive texts."
        return (
            f"CarrierX could not deliver this text to {message.their_formatted}: error "
            f"{message.vendor_error_code}, {meaning[0].lower() + meaning[1:]} {advice}"
        )
    said = fields.get("error_message") or fields.get("error") or fields.get("status_reason")
    said = said or fields.get("reason") or fields.get("description") or fields.get("errors")
    code = fields.get("vendor_error_code") or fields.get("error_code")
    to = message.their_formatted
    if said or code:
        reason = f"“{said}”" if said else "no message"
        with_code = f" (error code {code})" if code else ""
        return (
            f"CarrierX could not deliver this text to {to}: it reported {reason}{with_code}. "
            "Check that the number can receive texts before sending it again."
        )
    if message.error:
        return f"It was not sent to {to}: {message.error}"
    return (
        f"CarrierX reported that this text to {to} failed, without giving a reason. "
        "Check that the number can receive texts before sending it again."
    )


def carrier_unavailable() -> CarrierHealth | None:
    """The health row when repeated calls to the carrier have failed, else None."""
    health = CarrierHealth.objects.filter(pk=CarrierHealth.ROW).first()
    if health and health.consecutive_failures >= settings.CARRIER_UNAVAILABLE_AFTER:
        return health
    return None


# --- an MMS as pages show it ---------------------------------------------------------------------


def size_label(size: int | None) -> str:
    """`120 KB`, `2.4 MB`: what a person reads beside a download link."""
    if size is None:
        return ""
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{round(size / 1024)} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def files_summary(message: Message) -> str:
    """`3 photos`, `1 file`: what an inbox row says about a message's attachments."""
    count = message.media_count
    if not count:
        return ""
    files = list(message.media.all())
    photos = len(files) == count and all(f.content_type in INLINE_IMAGE_TYPES for f in files)
    noun = "photo" if photos else "file"
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _file_for_display(media: MessageMedia) -> MessageMedia:
    media.type_label = media_files.label(media.content_type)
    media.size_label = size_label(media.size)
    media.inline_image = media.state == MediaState.STORED and media.is_image
    # The carrier's copy, linked only when it is a web address (the webhook accepts only those).
    url = media.source_url
    media.carrier_link = url if url.lower().startswith(("http://", "https://")) else ""
    return media


def _participants(message: Message) -> list[str]:
    """Every number of a group MMS, formatted, the customer first: the carrier lists the others."""
    if not message.group_recipients:
        return []
    numbers = dict.fromkeys([message.their_number, message.our_number, *message.group_recipients])
    return [format_number(str(n)) for n in numbers]


def messages_for_display(messages: list[Message]) -> list[Message]:
    """Give each message its files (`files`, in order, with type and size in words) and its
    group's participants (`group`). The files come prefetched (`prefetch_related("media")` on
    the query), or are read here in one query for all the messages."""
    prefetch_related_objects(messages, "media")
    for message in messages:
        message.files = [_file_for_display(f) for f in message.media.all()]
        message.group = _participants(message)
    return messages
