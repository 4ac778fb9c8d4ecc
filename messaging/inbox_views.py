"""The inbox: conversations by customer, a thread per customer with replies, and live updates."""

from __future__ import annotations

import json
import re
from datetime import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from messaging.forms import ReplyForm
from messaging.live import new_cursor, parse_cursor, parse_id
from messaging.models import Conversation, Direction, Message
from messaging.selectors import (
    conversation_visible_or_404,
    conversations_for_display,
    conversations_visible_to,
    may_mark_read,
    message_visible_or_404,
    messages_visible_to,
    opt_outs_visible_to,
)
from messaging.sender_dids import SenderDids, sender_dids
from messaging.services.carrier_events import conversation_mark_read
from messaging.services.outbound import message_send
from portal.roles import VIEW_INBOX, role_required

PAGE_SIZE = 25
THREAD_SIZE = 50
SEARCH_MAX_LENGTH = 200
PHONE_LIKE = re.compile(r"^[\d\s()+.-]+$")
CUSTOMER_MAX_LENGTH = Conversation._meta.get_field("customer_number").max_length

inbox_required = role_required(VIEW_INBOX)


def _search(request: HttpRequest, conversations, q: str):
    if PHONE_LIKE.match(q):
        digits = re.sub(r"\D", "", q)
        return conversations.filter(customer_number__contains=digits)
    # Only text the person may read can make a conversation match.
    matching = messages_visible_to(request.user, Message.objects.filter(body__icontains=q))
    return conversations.filter(customer_number__in=matching.values("their_number"))


def _page_after(conversations, before: str | None):
    """Keyset pagination on (last_activity_at, id): no OFFSET, no COUNT."""
    if not before or "|" not in before:
        return conversations
    stamp, _, pk = before.rpartition("|")
    when = parse_cursor(stamp)
    last_id = parse_id(pk)
    if when is None or last_id is None:
        return conversations
    # The redundant `<=` lets the database seek in the index instead of filtering every newer row.
    return conversations.filter(last_activity_at__lte=when).filter(
        Q(last_activity_at__lt=when) | Q(last_activity_at=when, id__lt=last_id)
    )


@require_GET
@login_required
@inbox_required
def inbox(request: HttpRequest) -> HttpResponse:
    # A NUL cannot be compared with a PostgreSQL text column, and SQLite refuses LIKE patterns
    # over 50 KB: neither can be part of a real search.
    q = request.GET.get("q", "").replace("\x00", "").strip()[:SEARCH_MAX_LENGTH]
    before = request.GET.get("before")
    since = parse_cursor(request.GET.get("since"))
    conversations = conversations_visible_to(request.user)
    if q:
        conversations = _search(request, conversations, q)
    if since is not None and not conversations.filter(updated_at__gt=since).exists():
        # The cheap answer to a poll: nothing changed, nothing to render, htmx swaps nothing.
        return HttpResponse(status=204)

    page = list(
        _page_after(conversations, before)
        .select_related("last_message")
        .order_by("-last_activity_at", "-id")[: PAGE_SIZE + 1]
    )
    more = len(page) > PAGE_SIZE
    page = page[:PAGE_SIZE]
    # The keyset cursor comes from the stored rows, before they are narrowed for display.
    next_before = f"{page[-1].last_activity_at.isoformat()}|{page[-1].pk}" if more else ""
    context = {
        "conversations": conversations_for_display(request.user, page),
        "q": q,
        "live": not before,  # only the first page follows new activity
        "cursor": new_cursor(),
        "next_before": next_before,
    }
    template = "messaging/inbox.html#conversation-list" if request.htmx else "messaging/inbox.html"
    return render(request, template, context)


def _conversation_or_404(request: HttpRequest, customer: str) -> Conversation:
    # A URL part that no stored number can equal (too long, a NUL PostgreSQL refuses) is a 404
    # without asking the database.
    if len(customer) > CUSTOMER_MAX_LENGTH or "\x00" in customer:
        raise Http404("No such conversation.")
    return conversation_visible_or_404(request.user, customer)


def _default_from(conversation: Conversation, senders: SenderDids) -> str | None:
    """Reply from the DID the customer last wrote to; else the one we last wrote from; else the
    user's own default — always one this user may send from."""
    last = conversation.last_message
    for candidate in (conversation.last_inbound_did, last.our_number if last else None):
        if candidate in senders.numbers:
            return candidate
    return senders.default


def _thread_page(request, customer: str, before: str = "") -> tuple[list[Message], bool]:
    """The newest messages with a customer the person may read (or those older than `before`),
    oldest first."""
    thread = messages_visible_to(request.user, Message.objects.filter(their_number=customer))
    thread = thread.select_related("sent_by")
    if (before_id := parse_id(before)) is not None:
        thread = thread.filter(id__lt=before_id)
    rows = list(thread.order_by("-id")[: THREAD_SIZE + 1])
    return list(reversed(rows[:THREAD_SIZE])), len(rows) > THREAD_SIZE


@require_GET
@login_required
@inbox_required
def conversation(request: HttpRequest, customer: str) -> HttpResponse:
    convo = _conversation_or_404(request, customer)
    since = parse_cursor(request.GET.get("since"))
    if since is not None:
        return _thread_changes(request, convo, since)

    before = request.GET.get("before", "")
    rows, more = _thread_page(request, customer, before)
    if may_mark_read(request.user, convo):
        conversation_mark_read(customer)
    senders = sender_dids(request)
    form = ReplyForm(
        dids=senders.dids, customer=customer, initial={"from_did": _default_from(convo, senders)}
    )
    return render(
        request,
        "messaging/conversation.html",
        {
            "conversation": convo,
            "opt_outs": opt_outs_visible_to(request.user, customer),
            "thread": rows,
            "older_before": rows[0].pk if more and rows else "",
            "live": not before,
            "cursor": new_cursor(),
            "last_id": rows[-1].pk if rows else 0,
            "form": form,
        },
    )


def _thread_changes(request, convo: Conversation, since: datetime) -> HttpResponse:
    thread = messages_visible_to(
        request.user, Message.objects.filter(their_number=convo.customer_number)
    )
    changed = list(thread.filter(updated_at__gt=since).select_related("sent_by").order_by("id"))
    if not changed:
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
            "appended": [m for m in changed if m.pk > last_id],
            "cursor": new_cursor(),
            "last_id": max([last_id, *(m.pk for m in changed)]),
            "live": True,
        },
    )


@require_POST
@login_required
@inbox_required
def reply(request: HttpRequest, customer: str) -> HttpResponse:
    convo = _conversation_or_404(request, customer)
    dids = sender_dids(request).dids
    form = ReplyForm(request.POST, dids=dids, customer=customer)
    if form.is_valid():
        sent = message_send(
            from_number=form.cleaned_data["from_did"],
            to=customer,
            body=form.cleaned_data["message"],
            user=request.user,
        )
        if not request.htmx:
            messages.success(request, "Reply queued; its status follows in the thread.")
            return redirect("messaging:conversation", customer=customer)
        # A fresh composer that keeps the chosen DID; the thread's poll shows the reply.
        form = ReplyForm(dids=dids, customer=customer, initial={"from_did": sent.our_number})
    if request.htmx:
        # 200 even with errors: htmx swaps only successful answers, and the errors must show.
        return render(
            request, "messaging/conversation.html#composer", {"conversation": convo, "form": form}
        )
    return render(
        request,
        "messaging/conversation.html",
        {
            "conversation": convo,
            "opt_outs": opt_outs_visible_to(request.user, customer),
            "thread": _thread_page(request, customer)[0],
            "form": form,
            "live": False,
        },
        status=422,
    )


@require_GET
@login_required
@inbox_required
def message_detail(request: HttpRequest, pk: int) -> HttpResponse:
    if parse_id(str(pk)) is None:
        raise Http404("No such message.")
    message = message_visible_or_404(request.user, pk)
    events = []
    for event in message.events.order_by("id"):
        try:
            pretty = json.dumps(json.loads(event.body), indent=2, sort_keys=True)
        except ValueError:
            pretty = event.body
        events.append({"event": event, "json": pretty})
    return render(request, "messaging/message_detail.html", {"message": message, "events": events})
