"""New conversation, from the inbox: a customer's number, our DID and the first message, sent in
one step; the agent lands in that customer's conversation (an existing one simply continues)."""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods
from django.views.decorators.vary import vary_on_headers

from messaging.forms import NewConversationForm, when_text
from messaging.selectors.recipients import contact_blanks, recipient_suggestions
from messaging.selectors.visibility import sender_dids
from messaging.views.saved_replies import picker_context
from messaging.views.send import send_from_form
from portal.permissions import SEND_MESSAGE, VIEW_INBOX
from portal.phones import format_number
from portal.roles import role_required

TEMPLATE = "messaging/new_conversation.html"


def _suggestions(typed: str) -> list:
    contacts = recipient_suggestions(typed)
    for contact in contacts:
        # The picker's script fills a saved reply's known blanks from the contact picked.
        contact.formatted = format_number(contact.number)
        contact.blanks_json = json.dumps(contact_blanks(contact))
    return contacts


@require_http_methods(["GET", "POST"])
@login_required
@role_required(VIEW_INBOX)
@role_required(SEND_MESSAGE)
@vary_on_headers("HX-Request")
def conversation_new(request: HttpRequest) -> HttpResponse:
    posted = request.method == "POST"
    if request.htmx.trigger_name == "to_did" and not posted:
        # The To field's suggestions as the agent types (the browser's list shows them); any
        # other htmx request (the inbox loading this page into its pane) gets the page.
        suggestions = _suggestions(request.GET.get("to_did", ""))
        return render(request, TEMPLATE + "#contact-options", {"suggestions": suggestions})
    senders = sender_dids(request.user)
    # The Send page's default: the DID this person last sent from, else their own default.
    initial = {"from_did": request.session.get("from_did") or senders.default}
    picker = picker_context(request)
    if picker["saved_reply_picked"] is not None:
        # The Saved replies picker without JavaScript: its text fills the Message box.
        initial["message"] = picker["saved_reply_picked"].body
        initial["saved_reply_id"] = picker["saved_reply_picked"].pk
    form = NewConversationForm(
        request.POST if posted else None,
        request.FILES if posted else None,
        dids=senders.dids,
        initial=initial,
    )
    if posted and form.is_valid():
        send_at = form.cleaned_data["send_at"]
        message = send_from_form(request, form)
        if send_at:
            messages.success(
                request,
                f"Scheduled: the message goes {when_text(send_at)}; edit or cancel it in the "
                "thread.",
            )
        return redirect("messaging:conversation", customer=message.their_number)
    return render(
        request,
        TEMPLATE,
        {
            "form": form,
            "has_dids": bool(senders.dids),
            "suggestions": _suggestions(""),
            **picker,
        },
        status=422 if form.errors else 200,
    )
