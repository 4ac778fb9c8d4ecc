"""Migration 0009 repairs what earlier webhook versions stored (issue 10): rows with numbers
that are not numbers and prices the column cannot hold, which broke the inbox, the message list,
conversation pages and the export for everyone. Bad rows are written as those versions did
(the ORM without checks, raw SQL where the ORM cannot), then the migration's function runs."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.utils import timezone

from messaging.models import CarrierEvent, Conversation, Message
from tests.webhook_checks import assert_pages_answer_and_export_holds_every_message

pytestmark = pytest.mark.django_db

migration_name = "0009_repair_stored_callbacks"
migration = importlib.import_module(f"messaging.migrations.{migration_name}")
OURS = "15162065575"


def stored(their: str, *, our: str = OURS, events: int = 0, **fields) -> Message:
    message = Message.objects.create(
        message_sid=f"sid-{Message.objects.count()}",
        direction="inbound",
        our_number=our,
        their_number=their,
        status="received",
        body="hello",
        **fields,
    )
    for n in range(events):
        CarrierEvent.objects.create(
            body=f'{{"n": {n}}}', message=message, message_sid=message.message_sid, outcome="new"
        )
    return message


def conversation(customer: str, last: Message, unread: int, minutes_ago: int = 0):
    return Conversation.objects.create(
        customer_number=customer,
        last_message=last,
        last_inbound_did=last.our_number,
        unread_count=unread,
        last_activity_at=timezone.now() - timedelta(minutes=minutes_ago),
    )


def raw_update(message: Message, column: str, value) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE messaging_message SET {column} = %s WHERE id = %s", [value, message.pk]
        )


def run_migration() -> None:
    # The models as they stood at 0009 (CarrierEvent was still CallbackEvent; same tables).
    # Only the connection is used: a real schema editor cannot open inside the test transaction.
    state = MigrationLoader(connection).project_state(("messaging", migration_name))
    migration.repair(state.apps, SimpleNamespace(connection=connection))


def test_typed_numbers_are_normalised_and_one_customers_conversations_merged():
    typed = stored("+1 (555) 010-9999", events=1)
    digits = stored("15550109999", events=1)
    conversation("+1 (555) 010-9999", typed, unread=2, minutes_ago=5)
    conversation("15550109999", digits, unread=1)

    run_migration()

    assert set(Message.objects.values_list("their_number", flat=True)) == {"15550109999"}
    merged = Conversation.objects.get()
    assert (merged.customer_number, merged.unread_count) == ("15550109999", 3)
    assert merged.last_message == digits
    assert CarrierEvent.objects.count() == 2
    assert not CarrierEvent.objects.filter(rejected=True).exists()
    assert_pages_answer_and_export_holds_every_message()


@pytest.mark.parametrize(
    "their", ["", "1555/0109999", "<svg/onload=alert()>", "=cmd|'/C calc'!A0", "['1']", "x1516"]
)
def test_a_message_whose_number_is_no_number_is_quarantined_keeping_what_the_carrier_sent(their):
    good = stored("15162065574", events=1)
    conversation("15162065574", good, unread=1)
    bad_with_events = stored(their, events=2)
    bad_without = stored(their)
    conversation(their, bad_without, unread=1)

    run_migration()

    assert list(Message.objects.all()) == [good]
    assert list(Conversation.objects.values_list("customer_number", flat=True)) == ["15162065574"]
    quarantined = CarrierEvent.objects.filter(rejected=True)
    assert {e.message_sid for e in quarantined} == {
        bad_with_events.message_sid,
        bad_without.message_sid,
    }
    assert quarantined.count() == 3  # both callbacks, and a snapshot of the row that had none
    assert all(e.outcome.startswith(migration.QUARANTINED) for e in quarantined)
    assert f'"their_number": "{their}"' in quarantined.get(
        outcome__contains="snapshot"
    ).body.replace('\\"', '"')
    assert_pages_answer_and_export_holds_every_message()


def test_a_quarantined_last_message_leaves_its_conversation_pointing_at_the_one_before():
    earlier = stored("15162065574")
    stored("15162065574", our="=cmd|'/C calc'!A0")
    conversation("15162065574", Message.objects.order_by("-id").first(), unread=2)

    run_migration()

    assert Conversation.objects.get().last_message == earlier
    assert_pages_answer_and_export_holds_every_message()


def test_a_price_the_column_cannot_hold_is_cleared_and_its_callback_kept():
    poisoned = stored("15162065574", events=1)
    conversation("15162065574", poisoned, unread=1)
    # What SQLite kept from `"price":"12345678901"`; PostgreSQL could only have kept NaN.
    raw_update(poisoned, "price", 12345678901 if connection.vendor == "sqlite" else "NaN")
    raw_update(poisoned, "status_changed_at", datetime(1, 1, 1, tzinfo=UTC))

    run_migration()

    poisoned = Message.objects.get()
    assert (poisoned.price, poisoned.status_changed_at) == (None, None)
    assert CarrierEvent.objects.get().message == poisoned
    assert_pages_answer_and_export_holds_every_message()


def test_rows_the_webhook_would_accept_today_are_left_exactly_as_they_are():
    message = stored("15162065574", events=1, price="0.01000")
    conversation("15162065574", message, unread=1)
    before = list(Message.objects.values()), list(Conversation.objects.values())

    run_migration()

    assert (list(Message.objects.values()), list(Conversation.objects.values())) == before
