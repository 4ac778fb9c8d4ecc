"""The Messages list: every message, filtered, a page at a time; its CSV export; one message
with everything the carrier sent about it."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from urllib.parse import urlencode, urlsplit

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    StreamingHttpResponse,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods

from contacts.selectors import contact_names, with_contact_names
from messaging.forms import MessageFilterForm, ScheduledEditForm, when_text
from messaging.models import Direction, Message, Status
from messaging.selectors.messages import (
    failure_report,
    message_events,
    messages_for_display,
    messages_matching,
)
from messaging.selectors.paging import keyset_page, parse_id
from messaging.selectors.visibility import did_limit, message_visible_or_404
from messaging.services.scheduled import NotScheduled, scheduled_cancel, scheduled_update
from portal.csv_cells import csv_lines
from portal.permissions import SEND_MESSAGE, VIEW_INBOX
from portal.roles import DENIED_REASONS, role_required

PAGE_SIZE = 50
EXPORT_CHUNK_ROWS = 2000
EXPORT_COLUMNS = [
    ("id", "id"),
    ("created_at", "created_at"),
    ("direction", "direction"),
    ("our_did", "our_number"),
    ("customer", "their_number"),
    ("customer_name", None),  # the customer's contact, looked up a batch of rows at a time
    ("status", "status"),
    ("segments", "segments"),
    ("price", "price"),
    ("message_sid", "message_sid"),
    ("sent_by", "sent_by__username"),
    ("files", "media_count"),
    ("body", "body"),
]

inbox_required = role_required(VIEW_INBOX)


def _filters_query(request: HttpRequest, form: MessageFilterForm) -> str:
    """The filters as they were typed, for the Older and Export links (without the page)."""
    return urlencode([(k, v) for k, v in request.GET.items() if k in form.fields and v])


@require_GET
@login_required
@inbox_required
def message_list(request: HttpRequest) -> HttpResponse:
    form = MessageFilterForm(request.GET, did_limit=did_limit(request.user))
    before = request.GET.get("before", "")
    rows: list = []
    more = False
    # Invalid filters show their errors and no rows, never a wrongly filtered list.
    if form.is_valid():
        matching = messages_matching(request.user, form.cleaned_data)
        rows, more = keyset_page(matching, size=PAGE_SIZE, before=before)
        names = contact_names(m.their_number for m in rows)
        for m in rows:
            m.contact_name = names.get(m.their_number, "")
    return render(
        request,
        "messaging/messages.html",
        {
            "form": form,
            "rows": rows,
            "filters": _filters_query(request, form),
            "older_before": rows[-1].pk if more else "",
            "paged": parse_id(before) is not None,
        },
    )


CUSTOMER_COLUMN = [name for name, _ in EXPORT_COLUMNS].index("customer")


def _csv_lines(rows: Iterable[tuple]) -> Iterator[str]:
    def cells(pk, created_at, *rest):
        return [pk, timezone.localtime(created_at).isoformat(timespec="seconds"), *rest]

    def with_name(row: tuple, name: str) -> tuple:
        at = CUSTOMER_COLUMN + 1
        return (*row[:at], name, *row[at:])

    named = with_contact_names(rows, lambda row: row[CUSTOMER_COLUMN])
    return csv_lines(
        [name for name, _ in EXPORT_COLUMNS], (cells(*with_name(*pair)) for pair in named)
    )


@require_GET
@login_required
@inbox_required
def messages_export(request: HttpRequest) -> HttpResponse:
    form = MessageFilterForm(request.GET, did_limit=did_limit(request.user))
    if not form.is_valid():
        problems = "; ".join(f"{field}: {' '.join(errs)}" for field, errs in form.errors.items())
        return HttpResponseBadRequest(
            f"Cannot export: {problems}", content_type="text/plain; charset=utf-8"
        )
    # Tuples, not model instances, read from the database a chunk at a time (a server-side
    # cursor on PostgreSQL): memory stays flat however many rows match.
    rows = (
        messages_matching(request.user, form.cleaned_data)
        .values_list(*(field for _, field in EXPORT_COLUMNS if field))
        .iterator(chunk_size=EXPORT_CHUNK_ROWS)
    )
    filename = f"messages-{timezone.localdate().isoformat()}.csv"
    return StreamingHttpResponse(
        _csv_lines(rows),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


# Where a message page was opened from (`?from=`): the nav item it highlights and its back link.
CAME_FROM = {
    "messages": ("messaging:messages", "Messages"),
    "send": ("messaging:send", "Messaging"),
}


def _back(request: HttpRequest, message) -> tuple[str, str]:
    """The back link's URL and words: where the user came from, with its filters when the
    Referer (checked to be this site) is that page, else the message's conversation."""
    view_name, label = CAME_FROM.get(request.GET.get("from", ""), ("", ""))
    if not view_name:
        if not request.user.has_perm(VIEW_INBOX):
            view_name, label = CAME_FROM["send"]
        else:
            url = reverse("messaging:conversation", args=[message.their_number])
            return url, f"Conversation with {message.their_formatted}"
    url = reverse(view_name)
    referer = request.headers.get("Referer", "")
    same_site = url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    if same_site and urlsplit(referer).path == url:
        url = referer
    # The nav highlights the page the user came from (portal.context_processors reads this).
    request.nav_view = view_name
    return url, label


@require_GET
@login_required
def message_detail(request: HttpRequest, pk: int) -> HttpResponse:
    # Inbox staff read any message; senders may open what they sent from Recently sent.
    reads_inbox = request.user.has_perm(VIEW_INBOX)
    if not reads_inbox and not request.user.has_perm(SEND_MESSAGE):
        raise PermissionDenied(DENIED_REASONS[VIEW_INBOX])
    if parse_id(str(pk)) is None:
        raise Http404("No such message.")
    message = message_visible_or_404(request.user, pk)
    if not reads_inbox and message.direction != Direction.OUTBOUND:
        raise PermissionDenied(DENIED_REASONS[VIEW_INBOX])
    messages_for_display([message])
    message.contact_name = contact_names([message.their_number]).get(message.their_number, "")
    events = message_events(message)
    back_url, back_label = _back(request, message)
    context = {
        "message": message,
        "events": events,
        "failure": failure_report(message, events),
        "back_url": back_url,
        "back_label": back_label,
    }
    return render(request, "messaging/message_detail.html", context)


# --- a scheduled message ("Send later"): change its time and text, or cancel it, until it goes ---


def _scheduled_or_redirect(request: HttpRequest, pk: int) -> tuple[Message | None, HttpResponse]:
    """The scheduled message to change, if this person may change it (whoever may send or reply
    and can see it); else the answer to give: a 403/404, or back to the message page when it is
    no longer scheduled (it went, or someone cancelled it)."""
    if not (request.user.has_perm(SEND_MESSAGE) or request.user.has_perm(VIEW_INBOX)):
        raise PermissionDenied(DENIED_REASONS[SEND_MESSAGE])
    if parse_id(str(pk)) is None:
        raise Http404("No such message.")
    message = message_visible_or_404(request.user, pk)
    if message.direction != Direction.OUTBOUND:
        raise Http404("Only a message we send can be scheduled.")
    if message.status != Status.SCHEDULED:
        return None, _gone(request, message)
    return message, HttpResponse()


def _gone(request: HttpRequest, message: Message) -> HttpResponse:
    messages.error(request, str(NotScheduled(message)))
    return redirect("messaging:message", pk=message.pk)


def _next_url(request: HttpRequest, message: Message) -> str:
    """Where to go once done: the page the person came from (this site only), else the message's
    conversation, or the Messaging page for a sender who cannot read the inbox."""
    wanted = request.POST.get("next") or request.headers.get("Referer", "")
    if wanted and url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        path = urlsplit(wanted).path
        if path.startswith("/") and "/scheduled/" not in path and not path.endswith("/cancel/"):
            return wanted
    if request.user.has_perm(VIEW_INBOX):
        return reverse("messaging:conversation", args=[message.their_number])
    return reverse("messaging:send")


@require_http_methods(["GET", "POST"])
@login_required
def scheduled_edit(request: HttpRequest, pk: int) -> HttpResponse:
    message, answer = _scheduled_or_redirect(request, pk)
    if message is None:
        return answer
    form = ScheduledEditForm(
        request.POST if request.method == "POST" else None,
        has_files=message.media_count > 0,
        initial={"message": message.body, "send_at": timezone.localtime(message.send_at)},
    )
    if request.method == "POST" and form.is_valid():
        try:
            message = scheduled_update(
                message_id=message.pk,
                send_at=form.cleaned_data["send_at"],
                body=form.cleaned_data["message"],
            )
        except NotScheduled as gone:
            return _gone(request, gone.message or message)
        messages.success(
            request,
            f"Saved: the message to {message.their_formatted} goes {when_text(message.send_at)}.",
        )
        return redirect(_next_url(request, message))
    return render(
        request,
        "messaging/scheduled_edit.html",
        {"message": message, "form": form, "next": _next_url(request, message)},
        status=422 if form.errors else 200,
    )


@require_http_methods(["GET", "POST"])
@login_required
def scheduled_cancel_view(request: HttpRequest, pk: int) -> HttpResponse:
    message, answer = _scheduled_or_redirect(request, pk)
    if message is None:
        return answer
    if request.method == "POST":
        try:
            message = scheduled_cancel(message_id=message.pk)
        except NotScheduled as gone:
            return _gone(request, gone.message or message)
        messages.success(
            request,
            f"Cancelled: the message to {message.their_formatted} will not be sent.",
        )
        return redirect(_next_url(request, message))
    return render(
        request,
        "messaging/scheduled_cancel.html",
        {"message": message, "next": _next_url(request, message)},
    )
