"""portal.inserts writes a row exactly as the ORM's save() would, values passed through as they
are (text, booleans, whole numbers where the backend takes them) and converted (dates, decimals,
JSON, enum members) alike."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.forms.models import model_to_dict

from messaging.models import Direction, Kind, Message, Status
from portal.inserts import insert


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
