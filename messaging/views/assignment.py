"""A conversation's controls: assign it (to me, a teammate, nobody), mark it done, reopen it.

With htmx each POST answers the controls re-rendered (the thread shows the system line on its next
poll); without JavaScript it redirects back to the conversation with a message. A choice that
cannot be made (an unknown person, someone who may not read the inbox or this conversation, a
damaged id) is the form's error: 200 with the error in the controls for htmx, which swaps only
successful answers, and a 422 page saying why otherwise.
"""

from __future__ import annotations

from datetime import datetime

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from messaging.models import Conversation, ConversationEvent, Message
from messaging.selectors.conversations import thread_events, thread_events_after, thread_items
from messaging.selectors.paging import parse_id
from messaging.selectors.teammates import teammate_or_none, teammates_for
from messaging.selectors.visibility import conversation_visible_or_404
from messaging.services.assignment import (
    conversation_assign,
    conversation_done,
    conversation_reopen,
)
from portal.permissions import VIEW_INBOX
from portal.roles import role_required

NOT_A_TEAMMATE = (
    "Not assigned: that person is not on the inbox team or cannot see this conversation. "
    "Pick someone from the list, or Nobody."
)


class AssignForm(forms.Form):
    """`assignee`: a teammate's id, or empty for nobody."""

    assignee = forms.CharField(required=False, max_length=20, strip=True)

    def __init__(self, *args, conversation: Conversation, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.conversation = conversation

    def clean_assignee(self):
        value = self.cleaned_data["assignee"]
        if value == "":
            return None
        pk = parse_id(value)
        person = teammate_or_none(self.conversation, pk) if pk is not None else None
        if person is None:
            raise forms.ValidationError(NOT_A_TEAMMATE)
        return person


def name_of(user) -> str:
    return user.get_full_name() or user.get_username()


def assignment_context(request: HttpRequest, conversation: Conversation, error: str = "") -> dict:
    """What templates/messaging/_conversation_state.html needs, for the conversation pane too."""
    return {
        "conversation": conversation,
        "teammates": teammates_for(conversation),
        "assignment_error": error,
    }


def thread_context(
    conversation: Conversation, rows: list[Message], *, more: bool, before: str
) -> dict:
    """The thread of one page with its system lines in place (`thread`), and the newest line's
    id (`last_event`) for the poll's cursor."""
    events = thread_events(conversation, rows, older=more, before=before)
    return {
        "thread": thread_items(rows, events),
        "last_event": max((e.pk for e in events), default=0),
    }


def thread_poll_lines(
    request: HttpRequest, conversation: Conversation, since: datetime
) -> tuple[list[ConversationEvent], dict]:
    """For a thread's poll: the system lines it does not show yet (after the `last_event` id it
    sent), and the context that appends them; when there are any, the controls come along
    (`state_oob`) as someone changed the state or the assignee."""
    shown = parse_id(request.GET.get("last_event", "")) or 0
    events = thread_events_after(conversation, since, shown)
    context = {"last_event": max((e.pk for e in events), default=shown)}
    if events:
        # Read again, after the lines: the conversation this poll loaded first may predate them,
        # and controls older than the lines they come with would stay wrong until the next change.
        fresh = Conversation.objects.select_related("assignee").get(pk=conversation.pk)
        context |= {"state_oob": True, **assignment_context(request, fresh)}
    return events, context


def _answer(
    request: HttpRequest, customer: str, *, done: str = "", error: str = ""
) -> HttpResponse:
    conversation = conversation_visible_or_404(request.user, customer)
    if request.htmx:
        context = assignment_context(request, conversation, error)
        return render(request, "messaging/_conversation_state.html", context)
    if error:
        return render(
            request,
            "messaging/assignment_refused.html",
            {"conversation": conversation, "reason": error},
            status=422,
        )
    if done:
        messages.success(request, done)
    return redirect("messaging:conversation", customer=customer)


inbox_required = role_required(VIEW_INBOX)


@require_POST
@login_required
@inbox_required
def assign(request: HttpRequest, customer: str) -> HttpResponse:
    conversation = conversation_visible_or_404(request.user, customer)
    form = AssignForm(request.POST, conversation=conversation)
    if not form.is_valid():
        # One field: whatever was wrong with it (NUL, too long, no such teammate), that person
        # cannot be assigned.
        return _answer(request, customer, error=NOT_A_TEAMMATE)
    assignee = form.cleaned_data["assignee"]
    conversation_assign(conversation=conversation, assignee=assignee, actor=request.user)
    if assignee is None:
        done = "Unassigned: nobody has this conversation now."
    elif assignee.pk == request.user.pk:
        done = "Assigned to you."
    else:
        done = f"Assigned to {name_of(assignee)}."
    return _answer(request, customer, done=done)


@require_POST
@login_required
@inbox_required
def done(request: HttpRequest, customer: str) -> HttpResponse:
    conversation = conversation_visible_or_404(request.user, customer)
    conversation_done(conversation=conversation, actor=request.user)
    return _answer(request, customer, done="Marked done. A new message from them will reopen it.")


@require_POST
@login_required
@inbox_required
def reopen(request: HttpRequest, customer: str) -> HttpResponse:
    conversation = conversation_visible_or_404(request.user, customer)
    conversation_reopen(conversation=conversation, actor=request.user)
    return _answer(request, customer, done="Reopened.")
