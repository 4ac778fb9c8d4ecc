"""Who may read what: the one rule that limits every page showing messages to a person's DIDs.

An admin may limit a person to some of our DIDs (their sender profile); no DID assigned means
every DID. Sending (`sender_dids`) and reading both ask `did_limit()`, so what a
person may send from and what they may read never disagree. A conversation is per customer across
our DIDs: a limited person sees the conversations that have a message on one of their DIDs, and
inside them only those messages.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import connection
from django.db.models import Exists, OuterRef, QuerySet, Subquery
from django.http import Http404

from messaging.models import (
    Conversation,
    Direction,
    Message,
    OptOut,
    SenderProfile,
    SendingDefaults,
)
from phone_numbers.models import Did

CUSTOMER_MAX_LENGTH = Conversation._meta.get_field("customer_number").max_length

_CACHE = "_messaging_did_limit"


def did_limit(user: AbstractBaseUser | AnonymousUser) -> frozenset[str] | None:
    """The numbers of the DIDs `user` is limited to, or None when they may use every DID.

    Read once per request: the user object lives as long as the request, and the nav badge, the
    page and its fragments all ask.
    """
    if hasattr(user, _CACHE):
        return getattr(user, _CACHE)
    numbers: frozenset[str] = frozenset()
    if user.pk is not None:
        numbers = _allowed_numbers(user.pk)
    limit = numbers or None
    setattr(user, _CACHE, limit)
    return limit


def _allowed_numbers(user_id: int) -> frozenset[str]:
    # Raw SQL: every signed-in page and every live poll asks, and building the ORM's join cost
    # several times what running it does.
    q = connection.ops.quote_name
    allowed = SenderProfile.allowed_dids.through._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT d.{q('phonenumber')} FROM {q(allowed)} a "
            f"JOIN {q(SenderProfile._meta.db_table)} p ON p.{q('id')} = a.{q('senderprofile_id')} "
            f"JOIN {q(Did._meta.db_table)} d ON d.{q('id')} = a.{q('did_id')} "
            f"WHERE p.{q('user_id')} = %s",
            [user_id],
        )
        return frozenset(number for (number,) in cursor.fetchall())


def did_limit_sql(user) -> tuple[str, str, list] | None:
    """For a raw statement that reads the limit itself instead of asking `did_limit()` first (a
    live poll's one statement): a boolean SQL expression true when `user` may read every DID, a
    subquery of the numbers they are limited to otherwise, and the parameters of the two, in that
    order. None when this request already knows they may read every DID."""
    if hasattr(user, _CACHE):
        limit = getattr(user, _CACHE)
        if limit is None:
            return None
        return "1 = 0", f"({', '.join(['%s'] * len(limit))})", sorted(limit)
    unlimited, numbers = _did_limit_sql(connection.vendor)
    return unlimited, numbers, [user.pk, user.pk]


@functools.cache
def _did_limit_sql(vendor: str) -> tuple[str, str]:
    # Written once per database kind: every thread poll asks it.
    q = connection.ops.quote_name
    allowed = q(SenderProfile.allowed_dids.through._meta.db_table)
    profile = f"JOIN {q(SenderProfile._meta.db_table)} p ON p.{q('id')} = a.{q('senderprofile_id')}"
    return (
        f"NOT EXISTS (SELECT 1 FROM {allowed} a {profile} WHERE p.{q('user_id')} = %s)",
        f"(SELECT d.{q('phonenumber')} FROM {allowed} a {profile} "
        f"JOIN {q(Did._meta.db_table)} d ON d.{q('id')} = a.{q('did_id')} "
        f"WHERE p.{q('user_id')} = %s)",
    )


def messages_visible_to(user, messages: QuerySet[Message] | None = None) -> QuerySet[Message]:
    """`messages` (default: all) narrowed to the DIDs `user` may read; unchanged when unlimited,
    so an unlimited person's queries stay exactly as fast as before."""
    messages = Message.objects.all() if messages is None else messages
    limit = did_limit(user)
    return messages if limit is None else messages.filter(our_number__in=limit)


def opt_outs_visible_to(user, customer: str) -> list[OptOut]:
    opt_outs = OptOut.objects.filter(customer_number=customer, opted_out=True)
    limit = did_limit(user)
    return list(opt_outs if limit is None else opt_outs.filter(our_number__in=limit))


def _on_dids(limit: frozenset[str]) -> QuerySet[Message]:
    return Message.objects.filter(their_number=OuterRef("customer_number"), our_number__in=limit)


def conversations_visible_to(
    user, conversations: QuerySet[Conversation] | None = None
) -> QuerySet[Conversation]:
    """Conversations with at least one message `user` may read. For a limited person each row
    carries `visible_last_id`, the newest message they may read (`conversations_for_display`)."""
    conversations = Conversation.objects.all() if conversations is None else conversations
    limit = did_limit(user)
    if limit is None:
        return conversations
    # EXISTS lets the database pick the plan: walk the recent conversations probing each one's
    # thread index (a busy DID), or start from the DID's few messages (a quiet one). The newest
    # visible id is computed only for the rows a page returns.
    return conversations.filter(Exists(_on_dids(limit))).annotate(
        visible_last_id=Subquery(_on_dids(limit).order_by("-id").values("id")[:1])
    )


def number_can_exist(customer: str) -> bool:
    """False for a URL part that no stored number can equal (too long, a NUL PostgreSQL
    refuses): known without asking the database."""
    return len(customer) <= CUSTOMER_MAX_LENGTH and "\x00" not in customer


def no_such_number(customer: str) -> None:
    if not number_can_exist(customer):
        raise Http404("No such conversation.")


def conversation_visible_or_404(user, customer: str) -> Conversation:
    no_such_number(customer)
    conversation = (
        conversations_visible_to(user)
        .select_related("last_message")
        .filter(customer_number=customer)
    ).first()
    if conversation is None:
        raise Http404("No such conversation.")
    return conversation


def message_visible_or_404(user, pk: int) -> Message:
    message = messages_visible_to(user).filter(pk=pk).first()
    if message is None:
        raise Http404("No such message.")
    return message


def _unread_messages(conversation: Conversation) -> list[str]:
    """The DIDs of the conversation's unread messages: its last `unread_count` inbound ones
    (every inbound message adds one, opening the conversation resets it)."""
    return list(
        Message.objects.filter(
            their_number=conversation.customer_number, direction=Direction.INBOUND
        )
        .order_by("-id")
        .values_list("our_number", flat=True)[: conversation.unread_count]
    )


def conversations_for_display(user, page: list[Conversation]) -> list[Conversation]:
    """Show a limited person only what is theirs in each listed conversation: the newest message
    they may read instead of the conversation's newest, and only their unread messages. The rows
    are display copies; nothing here is saved."""
    limit = did_limit(user)
    if limit is None:
        return page
    last = Message.objects.in_bulk([c.visible_last_id for c in page])
    for conversation in page:
        conversation.last_message = last.get(conversation.visible_last_id)
        if conversation.last_message is not None:
            conversation.last_activity_at = conversation.last_message.created_at
        if conversation.unread_count:
            dids = _unread_messages(conversation)
            conversation.unread_count = sum(did in limit for did in dids)
    return page


def may_mark_read(user, conversation: Conversation) -> bool:
    """Opening a conversation marks it read; a limited person may only do that when every
    unread message is one they can see, so texts to other DIDs stay unread for their readers."""
    limit = did_limit(user)
    if limit is None or not conversation.unread_count:
        return True
    return all(did in limit for did in _unread_messages(conversation))


@dataclass(frozen=True)
class SenderDids:
    dids: list[Did]
    default: str | None  # the user's default DID, when it is one they may use

    @property
    def numbers(self) -> set[str]:
        return {d.phonenumber for d in self.dids}


def sender_dids(user) -> SenderDids:
    """Our SMS DIDs `user` may send from — all of them unless an admin limited the user — and
    their default. Read from the local DID cache only: the carrier is never called during a page
    load (the background re-read fills the cache; phone_numbers/tasks.py)."""
    profile = SenderProfile.objects.filter(user=user).select_related("default_did").first()
    dids = Did.objects.sms_capable()
    # The same limit every page that shows messages applies.
    limit = did_limit(user) if profile is not None else None
    if limit is not None:
        dids = dids.filter(phonenumber__in=limit)
    dids = list(dids)
    numbers = {d.phonenumber for d in dids}
    # The person's own default wins; else the one an admin chose for the whole portal.
    own = profile.default_did.phonenumber if profile and profile.default_did else None
    for default in (own, SendingDefaults.default_number()):
        if default in numbers:
            return SenderDids(dids=dids, default=default)
    return SenderDids(dids=dids, default=None)
