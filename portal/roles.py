"""The portal's roles (a Django group each, granting permissions from portal/permissions.py) and
the one guard decorator the views use, `role_required`.

The views' guards, the nav and the 403 page all use the same permission names, so what the nav
offers is exactly what the views let through.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import HttpResponse

from portal import permissions
from portal.auth_backends import permission_condition
from portal.permissions import CHANGE_CALLBACKS, SEND_MESSAGE, VIEW_INBOX

SENDERS = "Senders"
NUMBER_ADMINS = "Number admins"
INBOX_STAFF = "Inbox staff"

# group → [(app_label, model, codename, name)], from the one definition of each permission
ROLE_PERMISSIONS = {
    SENDERS: [tuple(permissions.SEND)],
    NUMBER_ADMINS: [tuple(permissions.EDIT_CALLBACKS)],
    INBOX_STAFF: [tuple(permissions.READ_INBOX)],
}

# What a person without the permission is told on the 403 page: what needs which role, and whom
# to ask.
DENIED_REASONS = {
    SEND_MESSAGE: f"Sending needs the {SENDERS} role; ask an administrator.",
    VIEW_INBOX: (
        f"Reading the inbox and messages needs the {INBOX_STAFF} role; ask an administrator."
    ),
    CHANGE_CALLBACKS: (
        f"Changing callbacks, DID groups and auto-replies needs the {NUMBER_ADMINS} role; "
        "ask an administrator."
    ),
}


def role_required(permission: str) -> Callable:
    """Like `permission_required(permission, raise_exception=True)`, but the PermissionDenied
    carries the reason the 403 page shows. Stack it under `@login_required`: a visitor who is not
    signed in is sent to sign in, not told off."""
    reason = DENIED_REASONS[permission]

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def guarded(request, *args, **kwargs):
            if not request.user.has_perm(permission):
                raise PermissionDenied(reason)
            return view(request, *args, **kwargs)

        return guarded

    return decorator


def polled_role_required(permission: str, question: Callable) -> Callable:
    """`role_required(permission)` for a view that open tabs poll every few seconds.

    `question(request, *args, **kwargs)` gives the poll's "anything new?" as a boolean SQL
    expression and its parameters, or None when the request is no such poll (no cursor, say).
    For a poll, the role is read in the same statement as the question, fresh (a role taken away
    counts on the very next poll), and nothing new is answered here with an empty 204, which htmx
    swaps for nothing: beyond the session and the user, the poll costs that one statement. A poll
    that finds something, and every other request, reaches the view with the role checked.
    """
    reason = DENIED_REASONS[permission]

    def decorator(view: Callable) -> Callable:
        checked = role_required(permission)(view)

        @wraps(view)
        def guarded(request, *args, **kwargs):
            asked = question(request, *args, **kwargs)
            if asked is None:
                return checked(request, *args, **kwargs)
            sql, params = asked
            allowed_sql, allowed_params = permission_condition(request.user, permission)
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT {allowed_sql}, {sql}", [*allowed_params, *params])
                allowed, changed = cursor.fetchone()
            if not allowed:
                raise PermissionDenied(reason)
            if not changed:
                return HttpResponse(status=204)
            return view(request, *args, **kwargs)

        return guarded

    return decorator


def ensure_roles(Group, Permission, ContentType) -> None:
    """Create the role groups with their permissions; safe to run again.

    Takes the model classes so the data migration can pass its historical models.
    """
    for group_name, perms in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=group_name)
        for app_label, model, codename, name in perms:
            content_type, _ = ContentType.objects.get_or_create(app_label=app_label, model=model)
            permission, _ = Permission.objects.get_or_create(
                content_type=content_type, codename=codename, defaults={"name": name}
            )
            group.permissions.add(permission)
