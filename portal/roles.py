"""The portal's roles: a Django group each, with the permissions the views check."""

from __future__ import annotations

SENDERS = "Senders"
NUMBER_ADMINS = "Number admins"
INBOX_STAFF = "Inbox staff"

# group → [(app_label, model, codename, name)]
ROLE_PERMISSIONS = {
    SENDERS: [("messaging", "message", "send_message", "Can send messages")],
    NUMBER_ADMINS: [
        ("numbers", "did", "change_callbacks", "Can change callback URLs and DID groups")
    ],
    INBOX_STAFF: [("messaging", "message", "view_inbox", "Can read the inbox")],
}


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
