"""Who answers a conversation and whether it still needs answering: assign (to someone or to
nobody), mark done, reopen, and "the first teammate to reply takes an unassigned conversation".

Each change is one conditional UPDATE whose row count says whether it happened, so two people
pressing at once cannot both take a conversation or both mark it done; only a change that
happened writes its ConversationEvent (the thread's system line). Every change bumps
`updated_at`, which open inboxes poll for.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from messaging.models import Conversation, ConversationEvent
from portal.permissions import VIEW_INBOX


def _change(
    conversation: Conversation, *, unless: Q, kind: str, actor, assignee=None, **fields
) -> bool:
    """Set `fields` on the conversation unless it already matches `unless`, and when that
    changed the row, record who did it. Returns whether anything changed."""
    now = timezone.now()
    if "state" in fields:
        fields["state_changed_at"] = now
    with transaction.atomic():
        changed = (
            Conversation.objects.filter(pk=conversation.pk)
            .exclude(unless)
            .update(updated_at=now, **fields)
        )
        if changed:
            ConversationEvent.objects.create(
                conversation_id=conversation.pk,
                kind=kind,
                actor=actor,
                assignee=assignee,
                created_at=now,
            )
    return bool(changed)


def conversation_assign(
    *, conversation: Conversation, assignee: AbstractBaseUser | None, actor: AbstractBaseUser
) -> bool:
    """Give the conversation to `assignee`, or to nobody (None). Assigning it to whoever already
    has it changes nothing and writes no event."""
    if assignee is None:
        return _change(
            conversation,
            unless=Q(assignee__isnull=True),
            kind=ConversationEvent.Kind.UNASSIGNED,
            actor=actor,
            assignee=None,
            assignee_id=None,
        )
    return _change(
        conversation,
        unless=Q(assignee=assignee),
        kind=ConversationEvent.Kind.ASSIGNED,
        actor=actor,
        assignee=assignee,
        assignee_id=assignee.pk,
    )


def conversation_done(*, conversation: Conversation, actor: AbstractBaseUser) -> bool:
    return _change(
        conversation,
        unless=Q(state=Conversation.State.DONE),
        kind=ConversationEvent.Kind.DONE,
        actor=actor,
        state=Conversation.State.DONE,
    )


def conversation_reopen(*, conversation: Conversation, actor: AbstractBaseUser | None) -> bool:
    """Open a done conversation again; `actor` None is the portal itself."""
    return _change(
        conversation,
        unless=Q(state=Conversation.State.OPEN),
        kind=ConversationEvent.Kind.REOPENED,
        actor=actor,
        state=Conversation.State.OPEN,
    )


def conversation_take_on_reply(*, customer: str, user: AbstractBaseUser | None) -> bool:
    """The first teammate to reply takes an unassigned conversation. Only someone who may read
    the inbox is a teammate: a sender without it could not see what they were given. The
    condition `assignee IS NULL` sits in the UPDATE itself, so of two simultaneous replies one
    takes it and the other finds it taken."""
    if user is None or not user.is_active or not user.has_perm(VIEW_INBOX):
        return False
    unassigned = Conversation.objects.filter(customer_number=customer, assignee__isnull=True)
    # Most replies go to conversations someone already has: one read, no write.
    pk = unassigned.values_list("pk", flat=True).first()
    if pk is None:
        return False
    now = timezone.now()
    with transaction.atomic():
        if not unassigned.filter(pk=pk).update(assignee_id=user.pk, updated_at=now):
            return False
        ConversationEvent.objects.create(
            conversation_id=pk,
            kind=ConversationEvent.Kind.TAKEN,
            actor=user,
            assignee=user,
            created_at=now,
        )
    return True
