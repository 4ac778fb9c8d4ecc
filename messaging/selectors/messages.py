"""Reads of messages: the Messages list's search and export, recent sends, a message's events,
and whether the carrier has been answering."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from messaging.models import CarrierHealth, Direction, Message
from messaging.selectors.visibility import messages_visible_to
from portal.phones import number_matches

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


def message_events(message: Message) -> list[dict]:
    """What the carrier sent about `message`, oldest first, each body pretty-printed when JSON."""
    events = []
    for event in message.events.order_by("id"):
        try:
            pretty = json.dumps(json.loads(event.body), indent=2, sort_keys=True)
        except ValueError:
            pretty = event.body
        events.append({"event": event, "json": pretty})
    return events


def carrier_unavailable() -> CarrierHealth | None:
    """The health row when repeated calls to the carrier have failed, else None."""
    health = CarrierHealth.objects.filter(pk=CarrierHealth.ROW).first()
    if health and health.consecutive_failures >= settings.CARRIER_UNAVAILABLE_AFTER:
        return health
    return None
