"""Who changed whose roles: a `RoleChange` row for every group a user joins or leaves.

Groups change through `User.groups` (Django admin's user form, a shell, a data migration) or
through `Group.user_set`; both send `m2m_changed` on the same through model. The actor is the
signed-in user of the request being served, set by `AuditActorMiddleware`; outside a request
(shell, migrations, management commands) there is none and the row says so.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.http import HttpRequest, HttpResponse

_actor: ContextVar = ContextVar("audit_actor", default=None)


def current_actor():
    return _actor.get()


def signed_in(user):
    """The user when someone is signed in, else None (an anonymous user is nobody to record)."""
    return user if user is not None and user.is_authenticated else None


class AuditActorMiddleware:
    """Makes the request's signed-in user the actor of the audit rows written while serving it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        token = _actor.set(signed_in(user))
        try:
            return self.get_response(request)
        finally:
            _actor.reset(token)


def groups_changed(sender, instance, action, reverse, model, pk_set, **kwargs) -> None:
    """`m2m_changed` receiver for `User.groups.through`."""
    from portal.models import RoleChange

    if action == "pre_clear":
        # clear() reports no pk_set afterwards; remember what is about to go.
        instance._role_change_cleared = set(
            getattr(instance, "user_set" if reverse else "groups").values_list("pk", flat=True)
        )
        return
    if action == "post_clear":
        pk_set = instance.__dict__.pop("_role_change_cleared", set())
        kind = RoleChange.Action.REMOVED
    elif action == "post_add":
        kind = RoleChange.Action.ADDED
    elif action == "post_remove":
        kind = RoleChange.Action.REMOVED
    else:
        return
    if not pk_set:
        return
    if reverse:  # group.user_set.add(users…)
        group_names = {instance.pk: instance.name}
        users = get_user_model().objects.filter(pk__in=pk_set).order_by("pk")
        pairs = [(user, instance.pk) for user in users]
    else:  # user.groups.add(groups…)
        group_names = dict(Group.objects.filter(pk__in=pk_set).values_list("pk", "name"))
        pairs = [(instance, pk) for pk in sorted(pk_set)]
    actor = current_actor()
    RoleChange.objects.bulk_create(
        RoleChange(
            actor=actor,
            actor_username=actor.get_username() if actor is not None else "",
            user=user,
            username=user.get_username(),
            group=group_names.get(group_pk, ""),
            action=kind,
        )
        for user, group_pk in pairs
    )
