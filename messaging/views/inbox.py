"""The inbox: conversations by customer, a thread per customer with replies, and live updates."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from urllib.parse import quote

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils.http import RFC3986_SUBDELIMS
from django.utils.text import Truncator
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from campaigns.selectors import campaign_tags
from contacts.selectors import contact_for_number, contact_names, contact_tags
from messaging.forms import ReplyForm, when_text
from messaging.models import Conversation, Direction, Message
from messaging.selectors.conversations import (
    inbox_conversations,
    inbox_page,
    inbox_view,
    list_changed,
    list_changed_sql,
    reply_from_default,
    thread_changed_sql,
    thread_changes,
    thread_items,
    thread_page,
)
from messaging.selectors.paging import new_cursor, parse_cursor, parse_id
from messaging.selectors.visibility import (
    conversation_visible_or_404,
    may_mark_read,
    number_can_exist,
    opt_outs_visible_to,
    sender_dids,
)
from messaging.services.carrier_events import conversation_mark_read
from messaging.services.outbound import message_send
from messaging.views.assignment import assignment_context, thread_context, thread_poll_lines
from messaging.views.saved_replies import picker_context
from portal.permissions import VIEW_INBOX
from portal.roles import polled_role_required, role_required

SEARCH_MAX_LENGTH = 200
SNIPPET_LENGTH = 80  # of a conversation's last message, on its row
ANNOUNCE_LENGTH = 200  # of a message, in what a screen reader announces when it arrives
# What reverse() leaves unquoted in a URL's arguments (django.urls.resolvers).
REVERSE_SAFE = RFC3986_SUBDELIMS + "/~:@"
INBOX_VIEW_LABELS = [
    ("mine", "Mine"),
    ("unassigned", "Unassigned"),
    ("all", "All"),
    ("done", "Done"),
]

inbox_required = role_required(VIEW_INBOX)


def _list_poll(request: HttpRequest) -> tuple[str, list] | None:
    # A search's poll asks the ORM, in the view.
    since = parse_cursor(request.GET.get("since"))
    if since is None or _search_terms(request):
        return None
    return list_changed_sql(request.user, since)


@require_GET
@login_required
@vary_on_headers("HX-Request")
@polled_role_required(VIEW_INBOX, _list_poll)
def inbox(request: HttpRequest) -> HttpResponse:
    # A poll with nothing new was answered 204 by the guard, in the role check's statement.
    since = parse_cursor(request.GET.get("since"))
    q = _search_terms(request)
    if since is not None and q and not list_changed(request.user, since, q):
        # The cheap answer to a poll: nothing changed, nothing to render, htmx swaps nothing.
        return HttpResponse(status=204)
    context = _list_context(request, q=q, before=request.GET.get("before"), since=since)
    template = "messaging/inbox.html#conversation-list" if request.htmx else "messaging/inbox.html"
    return render(request, template, context)


def _search_terms(request: HttpRequest) -> str:
    # A NUL cannot be compared with a PostgreSQL text column, and SQLite refuses LIKE patterns
    # over 50 KB: neither can be part of a real search.
    return request.GET.get("q", "").replace("\x00", "").strip()[:SEARCH_MAX_LENGTH]


def _list_context(
    request: HttpRequest,
    conversations=None,
    q: str | None = None,
    before: str | None = None,
    since: datetime | None = None,
) -> dict:
    """The conversation list pane: a page of conversations (older than `before`, a list cursor)
    with the customers' names and campaign tags."""
    if q is None:
        q = _search_terms(request)
    view = inbox_view(request.GET.get("view"))
    if conversations is None:
        conversations = inbox_conversations(request.user, q=q, view=view)
    page, next_before = inbox_page(request.user, conversations, before, since)
    numbers = [c.customer_number for c in page]
    tags = campaign_tags(numbers)
    names = contact_names(numbers)
    contact_tags_of = contact_tags(numbers)
    url_of = url_maker("messaging:conversation")
    for c in page:
        c.campaign_tag = tags.get(c.customer_number)
        c.contact_name = names.get(c.customer_number, "")
        c.contact_tags = contact_tags_of.get(c.customer_number, [])
        c.url = url_of(c.customer_number)
        if c.last_message:
            # Shown twice on a row (its text, and what a screen reader announces): cut once.
            c.last_message.snippet = Truncator(c.last_message.body).chars(SNIPPET_LENGTH)
    return {
        "conversations": page,
        "q": q,
        "view": view,
        "inbox_views": INBOX_VIEW_LABELS,
        "live": not before,  # only the first page follows new activity
        "cursor": new_cursor(),
        "next_before": next_before,
    }


def url_maker(viewname: str) -> Callable[[object], str]:
    """`url_of(arg)`: what `reverse(viewname, args=[arg])` answers, from one reverse a page instead
    of one a row: a list page's 25 rows (two links each) and a thread's 50 bubbles spent a tenth
    of their CPU resolving the same pattern again."""
    head, _, tail = reverse(viewname, args=["0"]).rpartition("0")
    return lambda arg: head + quote(str(arg), safe=REVERSE_SAFE) + tail


def _for_bubbles(messages: list[Message]) -> list[Message]:
    """What a thread's bubble shows that the template would otherwise work out per bubble (50 a
    page): its link, and the sentence a screen reader announces when it arrives."""
    url_of = url_maker("messaging:message")
    for m in messages:
        m.url = url_of(m.pk)
        m.system_line = False  # a missing attribute costs the template a dir() of the message
        if m.direction == Direction.INBOUND:
            said = f"New message from {m.their_formatted}"
        else:
            said = f"Sent to {m.their_formatted} from {m.our_formatted}"
        said += ": " + Truncator(m.body).chars(ANNOUNCE_LENGTH)
        if m.files:
            said += f" ({len(m.files)} file{pluralize(len(m.files))})"
        m.announce = said
    return messages


def _thread_poll(request: HttpRequest, customer: str) -> tuple[str, list] | None:
    since = parse_cursor(request.GET.get("since"))
    if since is None or not number_can_exist(customer):
        return None  # a page, or a number no thread can have: the view answers (404)
    return thread_changed_sql(request.user, customer, since)


@require_GET
@login_required
@vary_on_headers("HX-Request", "HX-Target")
@polled_role_required(VIEW_INBOX, _thread_poll)
def conversation(request: HttpRequest, customer: str) -> HttpResponse:
    # A poll with nothing new was answered 204 by the guard (no conversation or thread loaded).
    since = parse_cursor(request.GET.get("since"))
    convo = conversation_visible_or_404(request.user, customer)
    if since is not None:
        return _thread_changes(request, convo, since)

    context = _conversation_context(request, convo)
    if may_mark_read(request.user, convo):
        conversation_mark_read(customer)
    if _pane_only(request):
        # Another conversation picked in the list: only the right pane is swapped, the list
        # keeps polling, and htmx pushes this conversation's URL.
        return render(request, "messaging/conversation.html", context)
    return render(request, "messaging/inbox.html", {**_list_context(request), **context})


def _pane_only(request: HttpRequest) -> bool:
    # A history restore (Back after the cache was dropped) wants the whole page.
    htmx = request.htmx
    return bool(htmx) and htmx.target == "conversation-pane" and not htmx.history_restore_request


def _conversation_context(request: HttpRequest, convo: Conversation, form=None) -> dict:
    customer = convo.customer_number
    contact = contact_for_number(customer)
    convo.contact_name = contact.display_name if contact else ""
    before = request.GET.get("before", "")
    rows, more = thread_page(request.user, customer, before)
    _for_bubbles(rows)
    senders = sender_dids(request.user)
    opt_outs = opt_outs_visible_to(request.user, customer)
    picker = picker_context(request)
    if form is None:
        initial = {"from_did": reply_from_default(convo, senders)}
        if picker["saved_reply_picked"] is not None:
            # The Saved replies picker without JavaScript: its text fills the Message box.
            initial["message"] = picker["saved_reply_picked"].body
            initial["saved_reply_id"] = picker["saved_reply_picked"].pk
        form = ReplyForm(dids=senders.dids, customer=customer, opted_out=opt_outs, initial=initial)
    return {
        "conversation": convo,
        "contact": contact,
        "campaign_tag": campaign_tags([customer]).get(customer),
        "opt_outs": opt_outs,
        **thread_context(convo, rows, more=more, before=before),
        **assignment_context(request, convo),
        "older_before": rows[0].pk if more and rows else "",
        "live": not before,
        "cursor": new_cursor(),
        "last_id": rows[-1].pk if rows else 0,
        "form": form,
        **picker,
    }


def _thread_changes(request, convo: Conversation, since: datetime) -> HttpResponse:
    changed = _for_bubbles(thread_changes(request.user, convo.customer_number, since))
    lines, lines_context = thread_poll_lines(request, convo, since)
    if not changed and not lines:
        return HttpResponse(status=204)
    last_id = parse_id(request.GET.get("last", "")) or 0
    inbound = any(m.direction == Direction.INBOUND for m in changed)
    if inbound and may_mark_read(request.user, convo):
        conversation_mark_read(convo.customer_number)  # staff are looking at it right now
    return render(
        request,
        "messaging/conversation.html#thread-changes",
        {
            "conversation": convo,
            "updated": [m for m in changed if m.pk <= last_id],
            "appended": thread_items([m for m in changed if m.pk > last_id], lines),
            "cursor": new_cursor(),
            "last_id": max([last_id, *(m.pk for m in changed)]),
            "live": True,
            **lines_context,
        },
    )


@require_POST
@login_required
@inbox_required
@vary_on_headers("HX-Request")
def reply(request: HttpRequest, customer: str) -> HttpResponse:
    convo = conversation_visible_or_404(request.user, customer)
    dids = sender_dids(request.user).dids
    form = ReplyForm(request.POST, request.FILES, dids=dids, customer=customer)
    notice = ""
    if form.is_valid():
        send_at = form.cleaned_data["send_at"]
        sent = message_send(
            from_number=form.cleaned_data["from_did"],
            to=customer,
            body=form.cleaned_data["message"],
            user=request.user,
            attachments=form.cleaned_data["attachments"],
            send_at=send_at,
        )
        if send_at:
            notice = f"Reply scheduled for {when_text(send_at)}; edit or cancel it in the thread."
        if not request.htmx:
            messages.success(request, notice or "Reply queued; its status follows in the thread.")
            return redirect("messaging:conversation", customer=customer)
        # A fresh composer that keeps the chosen DID; the thread's poll shows the reply.
        form = ReplyForm(dids=dids, customer=customer, initial={"from_did": sent.our_number})
    if request.htmx:
        # 200 even with errors: htmx swaps only successful answers, and the errors must show.
        return render(
            request,
            "messaging/_reply_composer.html",
            {"conversation": convo, "form": form, "notice": notice},
        )
    context = {**_list_context(request), **_conversation_context(request, convo, form=form)}
    return render(request, "messaging/inbox.html", context, status=422)
