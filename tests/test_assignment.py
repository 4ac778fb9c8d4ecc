"""Assignment and state: assign to someone or nobody, done, reopen, the first teammate to reply
takes an unassigned conversation, a new inbound text reopens a done one; each change writes
exactly one system line, and a change that changes nothing writes none."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from messaging.models import Conversation, ConversationEvent, Direction, Message, Status
from messaging.selectors.conversations import (
    THREAD_SIZE,
    inbox_conversations,
    thread_events,
    thread_events_after,
    thread_items,
    thread_page,
)
from messaging.selectors.teammates import teammates_for
from messaging.services.assignment import (
    conversation_assign,
    conversation_done,
    conversation_reopen,
    conversation_take_on_reply,
)
from messaging.services.carrier_events import conversation_add_message
from messaging.services.outbound import message_send
from tests.conftest import make_user

CUSTOMER, OUR_DID = "15162065319", "15162065575"


def text_from(customer: str = CUSTOMER, body: str = "Hi", *, inbound: bool = True) -> Message:
    message = Message.objects.create(
        direction=Direction.INBOUND if inbound else Direction.OUTBOUND,
        our_number=OUR_DID,
        their_number=customer,
        body=body,
        status=Status.RECEIVED if inbound else Status.SENDING,
    )
    conversation_add_message(message)
    return message


def events(conversation=None) -> list[tuple]:
    rows = ConversationEvent.objects.order_by("id")
    if conversation is not None:
        rows = rows.filter(conversation=conversation)
    return [
        (e.kind, e.actor.username if e.actor else None, e.assignee.username if e.assignee else None)
        for e in rows.select_related("actor", "assignee")
    ]


@pytest.fixture
def convo(db) -> Conversation:
    text_from()
    return Conversation.objects.get(customer_number=CUSTOMER)


@pytest.fixture
def ines(db):
    return make_user("ines", "Inbox staff")


@pytest.fixture
def alex(db):
    return make_user("alex", "Inbox staff")


def test_assign_unassign_done_and_reopen_each_write_one_event(convo, ines, alex):
    assert conversation_assign(conversation=convo, assignee=alex, actor=ines)
    assert conversation_assign(conversation=convo, assignee=None, actor=ines)
    assert conversation_done(conversation=convo, actor=alex)
    assert conversation_reopen(conversation=convo, actor=alex)
    assert events(convo) == [
        ("assigned", "ines", "alex"),
        ("unassigned", "ines", None),
        ("done", "alex", None),
        ("reopened", "alex", None),
    ]
    stored = Conversation.objects.get()
    assert stored.state == "open" and stored.assignee is None


def test_a_change_that_changes_nothing_writes_no_event(convo, ines, alex):
    conversation_assign(conversation=convo, assignee=alex, actor=ines)
    assert not conversation_assign(conversation=convo, assignee=alex, actor=ines)
    conversation_done(conversation=convo, actor=ines)
    assert not conversation_done(conversation=convo, actor=alex)
    conversation_reopen(conversation=convo, actor=ines)
    assert not conversation_reopen(conversation=convo, actor=alex)
    conversation_assign(conversation=convo, assignee=None, actor=ines)
    assert not conversation_assign(conversation=convo, assignee=None, actor=ines)
    assert [kind for kind, *_ in events(convo)] == ["assigned", "done", "reopened", "unassigned"]


def test_every_change_bumps_updated_at_for_the_open_inboxes(convo, ines):
    Conversation.objects.update(updated_at=timezone.now() - timedelta(hours=1))
    before = Conversation.objects.get().updated_at
    conversation_done(conversation=convo, actor=ines)
    stored = Conversation.objects.get()
    assert stored.updated_at > before
    assert stored.state_changed_at == stored.updated_at


def test_an_inbound_text_to_a_done_conversation_reopens_it_by_nobody(convo, ines):
    conversation_assign(conversation=convo, assignee=ines, actor=ines)
    conversation_done(conversation=convo, actor=ines)
    text_from(body="One more thing")
    stored = Conversation.objects.get()
    assert stored.state == "open"
    assert stored.assignee == ines  # it comes back to whoever had it
    assert stored.unread_count == 2
    assert events(convo)[-1] == ("reopened", None, None)


def test_an_inbound_text_to_an_open_conversation_writes_no_event(convo):
    text_from(body="still here")
    assert events() == []


def test_our_own_message_to_a_done_conversation_leaves_it_done(convo, ines):
    conversation_done(conversation=convo, actor=ines)
    text_from(body="Thanks, bye", inbound=False)
    assert Conversation.objects.get().state == "done"
    assert [kind for kind, *_ in events()] == ["done"]


def test_a_new_inbound_text_in_an_open_conversation_costs_the_upsert_alone(convo):
    message = Message.objects.create(
        direction=Direction.INBOUND, our_number=OUR_DID, their_number=CUSTOMER, body="x"
    )
    with CaptureQueriesContext(connection) as captured:
        conversation_add_message(message)
    assert len(captured.captured_queries) == 1
    assert captured.captured_queries[0]["sql"].lstrip().upper().startswith("INSERT")


def test_the_webhook_reopening_a_done_conversation_adds_only_the_event_insert(
    client, webhook_url, convo, ines
):
    conversation_done(conversation=convo, actor=ines)
    body = {"message_sid": "s-again", "direction": "inbound", "from": CUSTOMER, "to": OUR_DID}
    body |= {"message": "back again", "status": "received"}
    with CaptureQueriesContext(connection) as captured:
        response = client.post(webhook_url, body, content_type="application/json")
    assert response.status_code == 200
    # On SQLite its own INSERT; on PostgreSQL a part of the one WITH that writes the text.
    writes = [
        q["sql"] for q in captured.captured_queries if q["sql"].startswith(("INSERT", "WITH"))
    ]
    into = 'INSERT INTO "messaging_conversationevent"'
    assert sum(into in s for s in writes) == 1
    if connection.vendor == "postgresql":
        assert [s.split()[0] for s in writes] == ["WITH"]
    else:
        assert [s for s in writes if s.startswith(into)] == [
            s for s in writes if "messaging_conversationevent" in s
        ]
    assert Conversation.objects.get().state == "open"
    assert events(convo)[-1] == ("reopened", None, None)


def test_the_first_teammate_to_reply_takes_an_unassigned_conversation(convo, ines, alex):
    message_send(from_number=OUR_DID, to=CUSTOMER, body="On it", user=ines)
    message_send(from_number=OUR_DID, to=CUSTOMER, body="Me too", user=alex)
    assert Conversation.objects.get().assignee == ines
    assert events() == [("taken", "ines", "ines")]


def test_a_reply_leaves_an_assigned_conversation_with_its_assignee(convo, ines, alex):
    conversation_assign(conversation=convo, assignee=alex, actor=alex)
    message_send(from_number=OUR_DID, to=CUSTOMER, body="Covering", user=ines)
    assert Conversation.objects.get().assignee == alex
    assert [kind for kind, *_ in events()] == ["assigned"]


def test_a_sender_who_may_not_read_the_inbox_takes_nothing(convo, sender):
    message_send(from_number=OUR_DID, to=CUSTOMER, body="Hello from the send page", user=sender)
    assert Conversation.objects.get().assignee is None
    assert events() == []


def test_an_auto_reply_takes_nothing(convo):
    message_send(from_number=OUR_DID, to=CUSTOMER, body="Thanks for your text")
    assert Conversation.objects.get().assignee is None


def test_a_first_message_to_a_new_number_is_the_senders_conversation(ines):
    message_send(from_number=OUR_DID, to="15162060000", body="Hello", user=ines)
    assert Conversation.objects.get(customer_number="15162060000").assignee == ines


def test_take_on_reply_of_a_number_without_a_conversation_is_nothing(ines):
    assert not conversation_take_on_reply(customer="15162060001", user=ines)


# --- the lists ------------------------------------------------------------------------------------


def numbers(user, view: str) -> list[str]:
    return [c.customer_number for c in inbox_conversations(user, view=view)]


def test_mine_differs_per_person_while_unassigned_all_and_done_are_shared(ines, alex):
    for n in range(4):
        text_from(f"1516206530{n}")
    mine_i, mine_a, nobody, finished = (
        Conversation.objects.get(customer_number=f"1516206530{n}") for n in range(4)
    )
    conversation_assign(conversation=mine_i, assignee=ines, actor=ines)
    conversation_assign(conversation=mine_a, assignee=alex, actor=ines)
    conversation_done(conversation=finished, actor=alex)
    for person in (ines, alex):
        assert set(numbers(person, "unassigned")) == {nobody.customer_number}
        assert set(numbers(person, "all")) == {
            mine_i.customer_number,
            mine_a.customer_number,
            nobody.customer_number,
        }
        assert numbers(person, "done") == [finished.customer_number]
    assert numbers(ines, "mine") == [mine_i.customer_number]
    assert numbers(alex, "mine") == [mine_a.customer_number]
    # Done is done whoever has it; mine lists only what is still open.
    conversation_done(conversation=mine_i, actor=ines)
    assert numbers(ines, "mine") == []
    assert set(numbers(ines, "done")) == {finished.customer_number, mine_i.customer_number}


def test_teammates_are_active_inbox_readers_who_can_see_the_conversation(convo, ines, alex):
    from messaging.models import SenderProfile
    from phone_numbers.models import Did

    make_user("sam", "Senders")
    root = make_user("root", superuser=True)
    gone = make_user("gone", "Inbox staff")
    gone.is_active = False
    gone.save()
    elsewhere = make_user("elsewhere", "Inbox staff")
    other = Did.objects.create(did_sid="d2", phonenumber="15162069999", active_capabilities=31)
    SenderProfile.objects.create(user=elsewhere).allowed_dids.add(other)
    assert {p.username for p in teammates_for(convo)} == {"ines", "alex", root.username}


# --- the thread's system lines --------------------------------------------------------------------


def test_the_thread_shows_system_lines_between_messages_by_time(convo, ines):
    conversation_done(conversation=convo, actor=ines)
    text_from(body="Reopening")
    rows, more = thread_page(ines, CUSTOMER)
    items = thread_items(rows, thread_events(convo, rows, older=more))
    kinds = [i.kind if getattr(i, "system_line", False) else i.body for i in items]
    assert kinds == ["Hi", "done", "Reopening", "reopened"]


def test_a_poll_gets_only_the_system_lines_the_page_does_not_show(convo, ines, alex):
    since = timezone.now() - timedelta(seconds=2)
    conversation_assign(conversation=convo, assignee=alex, actor=ines)
    shown = ConversationEvent.objects.get()
    conversation_done(conversation=convo, actor=alex)
    assert [e.kind for e in thread_events_after(convo, since, 0)] == ["assigned", "done"]
    assert [e.kind for e in thread_events_after(convo, since, shown.pk)] == ["done"]


def test_each_page_of_a_long_thread_shows_the_system_lines_of_its_own_span(convo, ines):
    conversation_done(conversation=convo, actor=ines)  # between the 1st and 2nd message
    for n in range(THREAD_SIZE):
        text_from(body=f"text {n}")  # the first reopens it
    conversation_done(conversation=convo, actor=ines)  # after the last
    newest, more = thread_page(ines, CUSTOMER)
    assert more and newest[0].body == "text 0"
    shown = [e.kind for e in thread_events(convo, newest, older=more)]
    assert shown == ["reopened", "done"]
    older, more = thread_page(ines, CUSTOMER, before=str(newest[0].pk))
    assert not more and [m.body for m in older] == ["Hi"]
    shown = [e.kind for e in thread_events(convo, older, older=more, before=str(newest[0].pk))]
    assert shown == ["done"]
