"""The inbox's reads: conversations by customer, one customer's thread, what changed since a
poll, and the nav's unread badge, each narrowed to what the person may read."""

from __future__ import annotations

import functools
import heapq
import re
from datetime import datetime

from django.db import connection
from django.db.models import Q, QuerySet, Subquery, prefetch_related_objects

from contacts.selectors import contacts_matching
from messaging.models import Conversation, ConversationEvent, Message, OptOut
from messaging.selectors.messages import files_summary, messages_for_display
from messaging.selectors.paging import keyset_page, parse_cursor, parse_id
from messaging.selectors.visibility import (
    SenderDids,
    conversations_for_display,
    conversations_visible_to,
    did_limit,
    did_limit_sql,
    messages_visible_to,
)
from portal.phones import number_matches

PAGE_SIZE = 25
# A live list's poll shows every conversation that moved since the tab's last answer, up to this
# many, even when more than a page's worth moved at once: a burst must not carry a new message past
# the first page between two polls, where the tab would never show or announce it.
LIVE_PAGE_MAX = 200
THREAD_SIZE = 50
PHONE_LIKE = re.compile(r"^[\d\s()+.-]+$")


def _search(user, conversations: QuerySet[Conversation], q: str) -> QuerySet[Conversation]:
    if PHONE_LIKE.match(q):
        return conversations.filter(number_matches("customer_number", q))
    # Only text the person may read can make a conversation match; so can the customer's
    # contact (name, company or tag: what staff remember a customer by).
    matching = messages_visible_to(user, Message.objects.filter(body__icontains=q))
    return conversations.filter(
        Q(customer_number__in=matching.values("their_number"))
        | Q(customer_number__in=contacts_matching(q).values("number"))
    )


def _older_than(conversations: QuerySet[Conversation], before: str | None):
    """Keyset on (last_activity_at, id): the conversations after the cursor `stamp|id`."""
    if not before or "|" not in before:
        return conversations
    stamp, _, pk = before.rpartition("|")
    when = parse_cursor(stamp)
    last_id = parse_id(pk)
    if when is None or last_id is None:
        return conversations
    # The redundant `<=` lets the database seek in the index instead of filtering every newer row.
    return conversations.filter(last_activity_at__lte=when).filter(
        Q(last_activity_at__lt=when) | Q(last_activity_at=when, id__lt=last_id)
    )


# The inbox's lists. Each is one seek in its own index (messaging/models.py, Conversation.Meta).
INBOX_VIEWS = ("mine", "unassigned", "all", "done")
DEFAULT_VIEW = "all"
_OPEN, _DONE = Conversation.State.OPEN, Conversation.State.DONE


def inbox_view(value: str | None) -> str:
    """The list a query string's `view` asks for; anything else is the default."""
    return value if value in INBOX_VIEWS else DEFAULT_VIEW


def _in_view(user, view: str | None) -> QuerySet[Conversation]:
    conversations = Conversation.objects.all()
    if view == "mine":
        return conversations.filter(assignee_id=user.pk, state=_OPEN)
    if view == "unassigned":
        return conversations.filter(assignee__isnull=True, state=_OPEN)
    if view == "all":
        return conversations.filter(state=_OPEN)
    if view == "done":
        return conversations.filter(state=_DONE)
    return conversations


def inbox_conversations(
    user, *, q: str = "", view: str | None = DEFAULT_VIEW
) -> QuerySet[Conversation]:
    """The conversations of one list: Mine (open, assigned to `user`), Unassigned (open, nobody's),
    All (open, anybody's) or Done; `view=None` is every conversation, whatever its state, which is
    what a list's poll asks about, as a conversation leaving the list is a change to show too."""
    conversations = conversations_visible_to(user, _in_view(user, view))
    return _search(user, conversations, q) if q else conversations


def list_changed(user, since: datetime, q: str) -> bool:
    """Whether any conversation of a search's results the person may see, in any state, changed
    after `since`: a search's poll asks the ORM (its matching is the ORM's). Without a search the
    poll asks `list_changed_sql`, beside its role check."""
    return inbox_conversations(user, q=q, view=None).filter(updated_at__gt=since).exists()


def list_changed_sql(user, since: datetime) -> tuple[str, list]:
    """Whether any conversation the person may see, in any state, changed after `since` (a
    conversation leaving the list shown is a change too), as a boolean SQL expression and its
    parameters: what the list's poll asks beside its role check. One probe of the `updated_at`
    index; raw SQL, as for the thread: the ORM's statement cost more to build than to run."""
    params: list = [connection.ops.adapt_datetimefield_value(since)]
    mine = ""
    # The DID limit is read first, in a statement of its own, unlike the thread's: inside this
    # one, PostgreSQL planned the message table for everyone, 1.5 ms against 0.9 for the two
    # statements (EXPLAIN on bench_inbox, 1M messages); the thread's plans it anyway.
    did_limit(user)
    if (limit := did_limit_sql(user)) is not None:
        unlimited, numbers, limit_params = limit
        mine = (
            f" AND ({unlimited} OR EXISTS (SELECT 1 FROM {_q(Message._meta.db_table)} m "
            f"WHERE m.{_q('their_number')} = c.{_q('customer_number')} "
            f"AND m.{_q('our_number')} IN {numbers}))"
        )
        params += limit_params
    return (
        f"EXISTS (SELECT 1 FROM {_q(Conversation._meta.db_table)} c "
        f"WHERE c.{_q('updated_at')} > %s{mine})",
        params,
    )


def inbox_page(
    user,
    conversations: QuerySet[Conversation],
    before: str | None,
    since: datetime | None = None,
) -> tuple[list[Conversation], str]:
    """A page of conversations, most recent activity first, and the cursor of the next ("").

    A poll's first page (`since`, the tab's cursor) is longer than a page when more conversations
    than that moved since: a message arriving moves its conversation to the top, so everything
    that moved since the cursor is at the top, and all of it is shown."""
    size = PAGE_SIZE
    if since is not None and not before:
        moved = conversations.filter(updated_at__gt=since)[:LIVE_PAGE_MAX].count()
        size = max(size, moved)
    ordered = _older_than(conversations, before).select_related("last_message", "assignee")
    page, more = keyset_page(ordered.order_by("-last_activity_at", "-id"), size=size)
    # The keyset cursor comes from the stored rows, before they are narrowed for display.
    next_before = f"{page[-1].last_activity_at.isoformat()}|{page[-1].pk}" if more else ""
    page = conversations_for_display(user, page)
    # "3 photos" on a last message with files: their types, in one query for the whole page.
    with_files = [c.last_message for c in page if c.last_message and c.last_message.media_count]
    prefetch_related_objects(with_files, "media")
    for message in with_files:
        message.files_summary = files_summary(message)
    return page, next_before


def _thread(user, customer: str) -> QuerySet[Message]:
    return messages_visible_to(user, Message.objects.filter(their_number=customer))


def thread_page(user, customer: str, before: str = "") -> tuple[list[Message], bool]:
    """The newest messages with a customer the person may read (or those older than `before`),
    oldest first, and whether older ones remain."""
    rows, more = keyset_page(
        _thread(user, customer).select_related("sent_by").prefetch_related("media").order_by("-id"),
        size=THREAD_SIZE,
        before=before,
    )
    return messages_for_display(list(reversed(rows))), more


def thread_changed_sql(user, customer: str, since: datetime) -> tuple[str, list]:
    """Whether any message of the thread the person may read changed after `since`, or a system
    line (assigned, done, reopened) was written: a boolean SQL expression and its parameters, the
    DID limit read in it, which the thread's poll asks beside its role check (every 2 s per open
    conversation). It probes the (customer, updated_at) and (conversation, created_at) indexes.
    Raw SQL: building the ORM's two EXISTS cost several times what running them does (issue 18:
    a poll ≤ 2 × a bare view). `customer` must be a number that can exist (`number_can_exist`)."""
    stamp = connection.ops.adapt_datetimefield_value(since)
    mine, limit_params = "", []
    if (limit := did_limit_sql(user)) is not None:
        unlimited, numbers, limit_params = limit
        mine = f" AND ({unlimited} OR m.{_q('our_number')} IN {numbers})"
    return _thread_changed_sql(connection.vendor, mine), [
        customer,
        stamp,
        *limit_params,
        customer,
        stamp,
    ]


@functools.lru_cache(maxsize=64)
def _thread_changed_sql(vendor: str, mine: str) -> str:
    # Written once per database kind and DID condition: it is asked every 2 s per open thread.
    message = _q(Message._meta.db_table)
    event = _q(ConversationEvent._meta.db_table)
    conversation = _q(Conversation._meta.db_table)
    return (
        f"(EXISTS (SELECT 1 FROM {message} m WHERE m.{_q('their_number')} = %s "
        f"AND m.{_q('updated_at')} > %s{mine}) "
        f"OR EXISTS (SELECT 1 FROM {event} e JOIN {conversation} c "
        f"ON c.{_q('id')} = e.{_q('conversation_id')} "
        f"WHERE c.{_q('customer_number')} = %s AND e.{_q('created_at')} > %s))"
    )


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def thread_changes(user, customer: str, since: datetime) -> list[Message]:
    """The thread's messages changed after `since`, oldest first."""
    changed = _thread(user, customer).filter(updated_at__gt=since)
    return messages_for_display(
        list(changed.select_related("sent_by").prefetch_related("media").order_by("id"))
    )


# A page of the thread shows at most this many system lines (a conversation passed back and forth
# all day stays readable).
THREAD_EVENTS = 100


def _system_lines(events: QuerySet[ConversationEvent]) -> list[ConversationEvent]:
    rows = list(
        events.select_related("actor", "assignee").order_by("-created_at", "-id")[:THREAD_EVENTS]
    )
    for event in rows:
        event.system_line = True  # what the thread's template tells a system line by
    return rows[::-1]


def thread_events(
    conversation: Conversation, messages: list[Message], *, older: bool, before: str = ""
) -> list[ConversationEvent]:
    """The system lines (who assigned, took, marked done, reopened) in the span of one page of the
    thread, oldest first: from the page's first message (from the start when no older messages
    remain) up to the next newer page's first message, `before` (now, on the newest page)."""
    events = ConversationEvent.objects.filter(conversation=conversation)
    if older and messages:
        events = events.filter(created_at__gte=messages[0].created_at)
    if (newer_id := parse_id(before)) is not None:
        newer = Message.objects.filter(pk=newer_id).values("created_at")[:1]
        events = events.filter(created_at__lt=Subquery(newer))
    return _system_lines(events)


def thread_events_after(
    conversation: Conversation, since: datetime, after_id: int
) -> list[ConversationEvent]:
    """For a poll: system lines written after `since` that the page does not show yet (ids above
    `after_id`, the newest it shows; the cursor's grace would otherwise repeat them)."""
    return _system_lines(
        ConversationEvent.objects.filter(
            conversation=conversation, created_at__gt=since, id__gt=after_id
        )
    )


def thread_items(messages: list[Message], events: list[ConversationEvent]) -> list:
    """Messages and system lines in one list by time, for the thread to show in order."""
    return list(heapq.merge(messages, events, key=lambda item: item.created_at))


def reply_from_default(conversation: Conversation, senders: SenderDids) -> str | None:
    """Reply from the DID the customer last wrote to; else the one we last wrote from; else the
    user's (or the portal's) default — always one this user may send from, and never one the
    customer opted out of (then None: the person picks, told why)."""
    last = conversation.last_message
    blocked = set(
        OptOut.objects.filter(
            customer_number=conversation.customer_number, opted_out=True
        ).values_list("our_number", flat=True)
    )
    for candidate in (
        conversation.last_inbound_did,
        last.our_number if last else None,
        senders.default,
    ):
        if candidate in senders.numbers and candidate not in blocked:
            return candidate
    return None


def unread_conversation_count(user) -> int:
    """The nav's unread badge. A limited person counts the unread conversations whose customer
    last wrote to one of their DIDs: cheap (the unread rows are indexed) and close enough for a
    badge, while the inbox rows show the exact count."""
    unread = Conversation.objects.filter(unread_count__gt=0)
    limit = did_limit(user)
    if limit is not None:
        unread = unread.filter(last_inbound_did__in=limit)
    return unread.count()
