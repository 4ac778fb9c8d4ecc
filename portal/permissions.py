"""The portal's permissions, named once.

The models declare them (`Meta.permissions` reads `meta_permissions()`), the views' guards and
the nav check them by these names, and the roles (portal/roles.py) grant them. They live in
`portal` rather than beside the models because the portal's own nav, landing page and role
migration need them and `portal` imports neither app (the apps import `portal`).
"""

from __future__ import annotations

from typing import NamedTuple


class PermissionDef(NamedTuple):
    app_label: str
    model: str
    codename: str
    name: str

    @property
    def full_name(self) -> str:
        """What `user.has_perm()` takes: `app_label.codename`."""
        return f"{self.app_label}.{self.codename}"


SEND = PermissionDef("messaging", "message", "send_message", "Can send messages")
READ_INBOX = PermissionDef("messaging", "message", "view_inbox", "Can read the inbox")
EDIT_CALLBACKS = PermissionDef(
    "numbers", "did", "change_callbacks", "Can change callback URLs and DID groups"
)

SEND_MESSAGE = SEND.full_name
VIEW_INBOX = READ_INBOX.full_name
CHANGE_CALLBACKS = EDIT_CALLBACKS.full_name

ALL = (SEND, READ_INBOX, EDIT_CALLBACKS)


def meta_permissions(app_label: str, model: str) -> list[tuple[str, str]]:
    """A model's `Meta.permissions`: (codename, name) of each permission declared on it."""
    return [(p.codename, p.name) for p in ALL if (p.app_label, p.model) == (app_label, model)]
