"""portal.inserts writes a row exactly as the ORM's save() would, values passed through as they
are (text, booleans, whole numbers where the backend takes them) and converted (dates, decimals,
JSON, enum members) alike."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.forms.models import model_to_dict

from campaigns.models import Campaign, Recipient
from messaging.models import Direction, Kind, Message, Status
from portal import inserts
from portal.inserts import insert, update_rows


def message(sid: str, **values) -> Message:
    fields = {
        "direction": Direction.INBOUND,
        "our_number": "15162065575",
        "their_number": "15162065319",
        "body": "Ünïcode, 'quotes' and %s",
        "kind": Kind.MMS,
        "media_count": 3,
        "group_recipients": ["15162065999", "15162065998"],
        "status": Status.DELIVERED,
        "segments": 2,
        "price": Decimal("0.00750"),
        "mcc": 310,
        "mnc": None,
        "resent": True,
        "needs_attention": False,
        "send_at": datetime(2026, 11, 30, 3, 0, tzinfo=UTC),
        "request_id": "req-1",
        "vendor_error_reason": "",
    }
    return Message(message_sid=sid, **(fields | values))


def stored(pk: int) -> dict:
    row = model_to_dict(Message.objects.get(pk=pk))
    return {k: v for k, v in row.items() if k not in ("id", "message_sid")}


@pytest.mark.django_db
@pytest.mark.parametrize("extra", [{}, {"mcc": None, "segments": 0, "resent": False, "body": ""}])
def test_an_inserted_message_reads_back_as_the_orm_saves_it(extra):
    by_orm = message("orm", **extra)
    by_orm.save()
    by_insert = message("insert", **extra)
    assert insert(by_insert, unless_exists="message_sid") is True
    assert by_insert.pk is not None and by_insert.pk != by_orm.pk
    assert stored(by_insert.pk) == stored(by_orm.pk)
    assert Message.objects.get(pk=by_insert.pk).created_at == by_insert.created_at


@pytest.mark.django_db
def test_an_insert_whose_sid_is_held_writes_nothing():
    insert(message("held"), unless_exists="message_sid")
    again = message("held", body="other")
    assert insert(again, unless_exists="message_sid") is False
    assert again.pk is None
    assert list(Message.objects.values_list("body", flat=True)) == ["Ünïcode, 'quotes' and %s"]


@pytest.mark.django_db
def test_rows_updated_together_read_back_as_bulk_update_leaves_them():
    by_orm = [message(f"orm-{n}", mcc=None, price=None, segments=1) for n in range(3)]
    by_rows = [message(f"rows-{n}", mcc=None, price=None, segments=1) for n in range(3)]
    for m in by_orm + by_rows:
        m.save()
    changes = [
        {"status": Status.SENT, "mcc": 310, "price": Decimal("0.01000"), "segments": 2},
        {"status": Status.FAILED, "mcc": None, "price": None, "body": "it's 100%"},
        {"status_changed_at": datetime(2026, 11, 30, 4, 5, 6, 789000, tzinfo=UTC)},
    ]
    names = ["status", "mcc", "price", "segments", "body", "status_changed_at"]
    for rows in (by_orm, by_rows):
        for m, change in zip(rows, changes, strict=True):
            for name, value in change.items():
                setattr(m, name, value)
    Message.objects.bulk_update(by_orm, names)
    update_rows(by_rows, names)
    for orm, rows in zip(by_orm, by_rows, strict=True):
        assert stored(rows.pk) == stored(orm.pk)
    assert stored(by_rows[0].pk)["price"] == Decimal("0.01000")
    assert stored(by_rows[1].pk)["mcc"] is None


@pytest.mark.django_db
def test_rows_updated_together_leave_every_other_row_alone(monkeypatch):
    monkeypatch.setattr(inserts, "UPDATE_ROWS_BATCH", 2)  # three rows: two statements
    rows = [message(f"m-{n}") for n in range(4)]
    for m in rows:
        m.save()
    for m in rows[:3]:
        m.body = f"new {m.message_sid}"
    update_rows(rows[:3], ["body"])
    assert [Message.objects.get(pk=m.pk).body for m in rows] == [
        "new m-0",
        "new m-1",
        "new m-2",
        message("x").body,
    ]


def test_a_foreign_key_is_set_by_rows_updated_together(db, sender):
    campaign = Campaign.objects.create(name="Keys", body="Hi", created_by=sender)
    recipients = [
        Recipient.objects.create(campaign=campaign, row=n, number=f"121255500{n:02d}")
        for n in range(3)
    ]
    texts = [message(f"text-{n}") for n in range(2)]
    for m in texts:
        m.save()
    recipients[0].message, recipients[1].message = texts
    update_rows(recipients[:2], ["message"])
    assert [Recipient.objects.get(pk=r.pk).message_id for r in recipients] == [
        texts[0].pk,
        texts[1].pk,
        None,
    ]
