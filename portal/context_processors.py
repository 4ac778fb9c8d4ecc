from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse

from portal.permissions import SEND_MESSAGE, VIEW_INBOX

SIGNED_IN = None  # a page every signed-in user may open (Configure is readable by everyone)


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    permission: str | None
    # The views (namespace:name) under this item: it is marked current on any of them.
    covers: frozenset[str]


DAILY_WORK = [
    NavItem(
        "Messaging",
        "messaging:send",
        SEND_MESSAGE,
        # Saved replies are managed from the Messaging page (and a conversation's reply box).
        frozenset(
            {
                "messaging:send",
                "messaging:saved_replies",
                "messaging:saved_reply_new",
                "messaging:saved_reply_edit",
                "messaging:saved_reply_delete",
            }
        ),
    ),
    NavItem(
        "Inbox",
        "messaging:inbox",
        VIEW_INBOX,
        frozenset(
            {
                "messaging:inbox",
                "messaging:conversation",
                "messaging:message",
                "messaging:scheduled_edit",
                "messaging:scheduled_cancel",
            }
        ),
    ),
    NavItem(
        "Contacts",
        "contacts:list",
        VIEW_INBOX,
        frozenset(
            f"contacts:{name}"
            for name in ("list", "new", "import", "import_report", "detail", "consent", "delete")
        ),
    ),
    NavItem("Messages", "messaging:messages", VIEW_INBOX, frozenset({"messaging:messages"})),
    NavItem(
        "Campaigns",
        "campaigns:list",
        SEND_MESSAGE,
        frozenset(
            f"campaigns:{name}"
            for name in ("list", "new", "detail", "preview", "edit", "delete", "cancel", "report")
        ),
    ),
    NavItem("Dashboard", "dashboard", VIEW_INBOX, frozenset({"dashboard"})),
]
CONFIGURE = [
    NavItem(
        "Phone Numbers",
        "numbers:list",
        SIGNED_IN,
        frozenset({"numbers:list", "numbers:detail", "numbers:did_callback", "numbers:did_group"}),
    ),
    NavItem(
        "DID Groups",
        "numbers:groups",
        SIGNED_IN,
        frozenset({"numbers:groups", "numbers:group_detail", "numbers:group_callback"}),
    ),
    NavItem(
        "Global Settings → Callbacks",
        "numbers:partner_callbacks",
        SIGNED_IN,
        frozenset({"numbers:partner_callbacks", "numbers:partner_callback"}),
    ),
    NavItem(
        "Auto-reply",
        "messaging:auto_replies",
        SIGNED_IN,
        frozenset({"messaging:auto_replies", "messaging:auto_reply_save"}),
    ),
]


def portal(request: HttpRequest) -> dict:
    return {
        "sandbox_mode": settings.CARRIERX_SANDBOX,
        "landline_check": settings.LANDLINE_CHECK,
        "nav": nav_for(request),
    }


def nav_for(request: HttpRequest) -> dict[str, list[dict]]:
    """The nav's two groups, holding only the pages this user's permissions open: the same
    permission names the views' guards check."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"work": [], "configure": []}
    match = getattr(request, "resolver_match", None)
    # A page reachable from several places (a message) may say which nav item it belongs to now.
    here = getattr(request, "nav_view", None) or (match.view_name if match else "")

    def items(group: list[NavItem]) -> list[dict]:
        return [
            {
                "label": item.label,
                "url": reverse(item.url_name),
                "current": here in item.covers,
                "unread": item.url_name == "messaging:inbox",
            }
            for item in group
            if item.permission is SIGNED_IN or user.has_perm(item.permission)
        ]

    return {"work": items(DAILY_WORK), "configure": items(CONFIGURE)}
