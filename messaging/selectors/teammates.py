"""Who a conversation may be assigned to: active people who may read the inbox (by role, by a
permission given directly, or as superusers) and who can see that conversation (an admin may
limit a person to some of our DIDs)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q

from messaging.models import Conversation, Message, SenderProfile
from portal.permissions import READ_INBOX


def _inbox_readers():
    perm = {"codename": READ_INBOX.codename, "content_type__app_label": READ_INBOX.app_label}
    by_role = Q(**{f"groups__permissions__{k}": v for k, v in perm.items()})
    directly = Q(**{f"user_permissions__{k}": v for k, v in perm.items()})
    return (
        get_user_model()
        .objects.filter(Q(is_superuser=True) | by_role | directly, is_active=True)
        .distinct()
    )


def _limits(user_ids: list[int]) -> dict[int, set[str]]:
    """The DIDs each limited person may read, in one query for the whole team."""
    through = SenderProfile.allowed_dids.through.objects.filter(
        senderprofile__user_id__in=user_ids
    ).values_list("senderprofile__user_id", "did__phonenumber")
    limits: dict[int, set[str]] = {}
    for user_id, number in through:
        limits.setdefault(user_id, set()).add(number)
    return limits


def teammates_for(conversation: Conversation) -> list[AbstractBaseUser]:
    """The people `conversation` may be assigned to, by name."""
    people = list(_inbox_readers().order_by("first_name", "last_name", "username"))
    limits = _limits([p.pk for p in people])
    thread = Message.objects.filter(their_number=conversation.customer_number)
    return [
        p
        for p in people
        if p.pk not in limits or thread.filter(our_number__in=limits[p.pk]).exists()
    ]


def teammate_or_none(conversation: Conversation, pk: int) -> AbstractBaseUser | None:
    return next((p for p in teammates_for(conversation) if p.pk == pk), None)
