"""The notify poll behind every signed-in tab (static/js/notifications.js): the unread count for
the tab's title and the nav badge, and the new inbound texts to raise desktop notifications for.

Every open tab asks every few seconds, so the usual answer — nothing changed — is an empty 204
after one indexed probe, well under a kilobyte on the wire.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.views.decorators.http import require_GET

from contacts.selectors import contact_names
from messaging.models import Message
from messaging.selectors.conversations import list_changed_sql, unread_conversation_count
from messaging.selectors.messages import files_summary
from messaging.selectors.notifications import notifiable_messages
from messaging.selectors.paging import new_cursor, parse_cursor
from portal.models import UserPreferences
from portal.permissions import VIEW_INBOX
from portal.phones import format_number
from portal.roles import polled_role_required

PREVIEW_LENGTH = 80


def _anything_changed(request: HttpRequest) -> tuple[str, list] | None:
    # The inbox list's own question: a new text, a status, a read or an assignment all touch a
    # conversation's `updated_at`.
    since = parse_cursor(request.GET.get("since"))
    return None if since is None else list_changed_sql(request.user, since)


@require_GET
@login_required
@polled_role_required(VIEW_INBOX, _anything_changed)
def notify_poll(request: HttpRequest) -> HttpResponse:
    # Nothing changed since the cursor: answered 204 by the guard, in the role check's statement.
    # A missing or unreadable cursor is a fresh start: the count and a cursor, nothing to notify
    # (whatever came before it is not news to this tab).
    since = parse_cursor(request.GET.get("since"))
    cursor = new_cursor()  # before the reads, so nothing written during them is skipped
    new = []
    if since is not None:
        notify_on = UserPreferences.notify_on_for(request.user)
        new = notifiable_messages(request.user, since, notify_on)
    names = contact_names(m.their_number for m in new)
    return JsonResponse(
        {
            "unread": unread_conversation_count(request.user),
            "cursor": cursor,
            "messages": [_notice(m, names.get(m.their_number)) for m in new],
        }
    )


def _notice(message: Message, name: str | None) -> dict:
    number = format_number(message.their_number)
    return {
        "id": message.pk,
        "sender": f"{name} ({number})" if name else number,
        "text": message.body[:PREVIEW_LENGTH] or files_summary(message),
        "url": reverse("messaging:conversation", args=[message.their_number]),
    }
