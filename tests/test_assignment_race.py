"""Two teammates reply to the same unassigned conversation at the same moment: one takes it, the
other finds it taken. On PostgreSQL, with real concurrent transactions: the second UPDATE waits
for the first one's row lock and then re-checks `assignee IS NULL`."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, connections, transaction

from messaging.models import Conversation, ConversationEvent, Direction, Message
from messaging.services.assignment import conversation_done, conversation_take_on_reply
from messaging.services.carrier_events import conversation_add_message
from tests.conftest import make_user

CUSTOMER = "15162065319"

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="concurrent transactions need PostgreSQL"
    ),
]


def _conversation() -> Conversation:
    message = Message.objects.create(
        direction=Direction.INBOUND, our_number="15162065575", their_number=CUSTOMER, body="Hi"
    )
    conversation_add_message(message)
    return Conversation.objects.get()


def _race(first_action, second_action) -> list:
    """Run `first_action` in a transaction held open until `second_action` (in another thread,
    on its own connection) has had time to reach the same row, then commit it."""
    results: list = [None, None]
    first_done, release = threading.Event(), threading.Event()

    def first() -> None:
        try:
            with transaction.atomic():
                results[0] = first_action()
                first_done.set()
                release.wait(10)
        finally:
            connections.close_all()

    def second() -> None:
        try:
            first_done.wait(10)
            results[1] = second_action()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)  # the second is now blocked on the first's row lock
    release.set()
    for thread in threads:
        thread.join(20)
    return results


def test_two_teammates_replying_at_once_leave_one_assignee_and_one_event():
    _conversation()
    ines, alex = make_user("ines", "Inbox staff"), make_user("alex", "Inbox staff")
    results = _race(
        lambda: conversation_take_on_reply(customer=CUSTOMER, user=ines),
        lambda: conversation_take_on_reply(customer=CUSTOMER, user=alex),
    )
    assert results == [True, False]
    assert Conversation.objects.get().assignee == ines
    assert list(ConversationEvent.objects.values_list("kind", "actor__username")) == [
        ("taken", "ines")
    ]


def test_two_teammates_marking_done_at_once_write_one_event():
    conversation = _conversation()
    ines, alex = make_user("ines", "Inbox staff"), make_user("alex", "Inbox staff")
    results = _race(
        lambda: conversation_done(conversation=conversation, actor=ines),
        lambda: conversation_done(conversation=conversation, actor=alex),
    )
    assert results == [True, False]
    assert list(ConversationEvent.objects.values_list("kind", "actor__username")) == [
        ("done", "ines")
    ]
