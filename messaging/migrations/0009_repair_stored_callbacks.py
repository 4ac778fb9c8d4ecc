"""Repair or quarantine what earlier versions stored from unchecked callbacks (issue 10).

- Prices a Message.price column cannot hold (SQLite kept `12345678901`, which the ORM then cannot
  even read) and PostgreSQL's NaN: set to NULL, with raw SQL since the ORM cannot read them.
  Their callbacks keep the price as sent.
- Status dates outside 1970–9998: NULL (no time zone can display them safely).
- NUL in message text (SQLite stored it): U+FFFD, as the webhook now does.
- Numbers: normalised to the digits CarrierX uses when they can be (`+1 (555) 010-9999` →
  `15550109999`), merging conversations that turn out to be one customer's. A message whose
  numbers cannot be is quarantined: its callbacks are kept and marked rejected with the reason
  (a message that had none gets one holding a snapshot of its row), then the row goes, and so
  does a conversation left without a usable number. Nothing the carrier sent is lost.

The numbers are checked with the webhook's own `carrier_number`, so stored rows end up exactly as
the webhook would accept them today.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from django.db import migrations

QUARANTINED = "quarantined by migration 0009 (unusable number): "


def repair(apps, schema_editor) -> None:
    connection = schema_editor.connection
    table = apps.get_model("messaging", "Message")._meta.db_table
    with connection.cursor() as cursor:
        _repair_columns(cursor, connection.vendor, connection.ops.quote_name(table))
    _repair_numbers(apps)


def _repair_columns(cursor, vendor: str, table: str) -> None:
    if vendor == "sqlite":
        # NUMERIC affinity stores numeric text as a number; anything else stayed text.
        cursor.execute(
            f"UPDATE {table} SET price = NULL WHERE price IS NOT NULL AND "
            "(typeof(price) NOT IN ('integer', 'real') OR abs(price) >= 99999.99999)"
        )
        cursor.execute(
            f"UPDATE {table} SET body = replace(body, char(0), char(65533)) "
            "WHERE instr(body, char(0)) > 0"
        )
    elif vendor == "postgresql":
        # numeric(10, 5) holds every finite value it accepted; NaN is the one it cannot show.
        cursor.execute(f"UPDATE {table} SET price = NULL WHERE price = 'NaN'")
    cursor.execute(
        f"UPDATE {table} SET status_changed_at = NULL "
        "WHERE status_changed_at < %s OR status_changed_at > %s",
        [datetime(1970, 1, 1, tzinfo=UTC), datetime(9998, 12, 31, tzinfo=UTC)],
    )


def _normalised(number: str) -> str | None:
    from messaging.validation import Invalid, carrier_number

    try:
        return carrier_number(number)
    except Invalid:
        return None


def _repair_numbers(apps) -> None:
    Message = apps.get_model("messaging", "Message")
    Conversation = apps.get_model("messaging", "Conversation")
    CallbackEvent = apps.get_model("messaging", "CallbackEvent")

    stored = set(Message.objects.values_list("their_number", flat=True).distinct())
    stored |= set(Message.objects.values_list("our_number", flat=True).distinct())
    stored |= set(Conversation.objects.values_list("customer_number", flat=True))
    fixes = {number: _normalised(number) for number in stored}
    fixes = {number: good for number, good in fixes.items() if good != number}
    if not fixes:
        return
    for bad, good in fixes.items():
        if good is not None:
            Message.objects.filter(their_number=bad).update(their_number=good)
            Message.objects.filter(our_number=bad).update(our_number=good)
    unusable = [bad for bad, good in fixes.items() if good is None]
    touched = {good for good in fixes.values() if good is not None}
    for message in Message.objects.filter(their_number__in=unusable) | Message.objects.filter(
        our_number__in=unusable
    ):
        touched.add(message.their_number)  # its conversation may have pointed at it
        _quarantine(message, CallbackEvent)

    for conversation in Conversation.objects.filter(customer_number__in=list(fixes)):
        good = fixes[conversation.customer_number]
        into = Conversation.objects.filter(customer_number=good).first() if good else None
        if good is None or into is not None:
            if into is not None:
                into.unread_count += conversation.unread_count
                into.last_activity_at = max(into.last_activity_at, conversation.last_activity_at)
                into.save(update_fields=["unread_count", "last_activity_at"])
            conversation.delete()
        else:
            conversation.customer_number = good
            conversation.save(update_fields=["customer_number"])
    for conversation in Conversation.objects.filter(customer_number__in=touched):
        _recompute(conversation, Message)
    for bad, good in fixes.items():
        Conversation.objects.filter(last_inbound_did=bad).update(last_inbound_did=good or "")


def _quarantine(message, CallbackEvent) -> None:
    reason = f"{QUARANTINED}our {message.our_number!r}, theirs {message.their_number!r}"
    events = CallbackEvent.objects.filter(message=message)
    if not events.exists():
        # Never lose what we knew: a message without callbacks keeps a snapshot of its row.
        snapshot = {
            field.attname: getattr(message, field.attname) for field in message._meta.fields
        }
        CallbackEvent.objects.create(
            body=json.dumps(snapshot, default=str),
            message_sid=message.message_sid or "",
            status=message.status,
            outcome=f"{reason}; snapshot of the message row"[:200],
            rejected=True,
        )
    for event in events:
        event.outcome = f"{reason}; was: {event.outcome}"[:200]
        event.rejected = True
        event.save(update_fields=["outcome", "rejected"])
    message.delete()


def _recompute(conversation, Message) -> None:
    thread = Message.objects.filter(their_number=conversation.customer_number).order_by("-id")
    last = thread.first()
    last_inbound = thread.filter(direction="inbound").first()
    conversation.last_message = last
    if last is not None:
        conversation.last_activity_at = max(conversation.last_activity_at, last.created_at)
    conversation.last_inbound_did = last_inbound.our_number if last_inbound else ""
    conversation.save(update_fields=["last_message", "last_activity_at", "last_inbound_did"])


class Migration(migrations.Migration):
    dependencies = [("messaging", "0008_callback_event_rejected")]

    operations = [migrations.RunPython(repair, migrations.RunPython.noop, elidable=True)]
