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
