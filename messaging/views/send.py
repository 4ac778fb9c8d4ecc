"""The Messaging page: the Send form and the live list of recent sends."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import HttpResponseStopPolling

from messaging.forms import SendForm, when_text
from messaging.models import Message
from messaging.selectors.messages import carrier_unavailable, recent_sends
from messaging.selectors.visibility import sender_dids
from messaging.services.outbound import message_send
from messaging.views.saved_replies import picker_context
from portal.permissions import SEND_MESSAGE
from portal.roles import role_required

# The message the "Sending to …" banner is about, until its status is final.
JUST_SENT = "just_sent"


def _just_sent(request: HttpRequest, recent) -> tuple[Message | None, bool]:
    """The message the banner speaks of while its status can still change, and whether a banner
    shown before is now done (final, or gone from the list): then it is forgotten."""
    pk = request.session.get(JUST_SENT)
    if pk is None:
        return None, False
    message = next((m for m in recent if m.pk == pk), None)
    if message is None or message.is_final:
        del request.session[JUST_SENT]
        return None, True
    return message, False


@require_http_methods(["GET", "POST"])
@login_required
@role_required(SEND_MESSAGE)
def send_page(request: HttpRequest) -> HttpResponse:
    senders = sender_dids(request.user)
    dids = senders.dids
    # Staff usually send several texts from one number: keep the last From DID selected.
    preselected = request.session.get("from_did") or senders.default
    picker = picker_context(request)
    initial = {"from_did": preselected}
    if picker["saved_reply_picked"] is not None:
        # The Saved replies picker without JavaScript: its text fills the Message box.
        initial["message"] = picker["saved_reply_picked"].body
        initial["saved_reply_id"] = picker["saved_reply_picked"].pk
    form = SendForm(
        request.POST if request.method == "POST" else None,
        request.FILES if request.method == "POST" else None,
        dids=dids,
        initial=initial,
    )
    if request.method == "POST" and form.is_valid():
        send_at = form.cleaned_data["send_at"]
        message = send_from_form(request, form)
        if send_at:
            messages.success(
                request,
                f"Scheduled: the message to {message.their_formatted} goes {when_text(send_at)}. "
                "Edit or cancel it under Recently sent until then.",
            )
        else:
            request.session[JUST_SENT] = message.pk
        return redirect("messaging:send")
    recent = recent_sends(request.user)
    return render(
        request,
        "messaging/send.html",
        {
            "form": form,
            "recent": recent,
            "just_sent": _just_sent(request, recent)[0],
            "has_dids": bool(dids),
            "carrier_down": carrier_unavailable(),
            **picker,
        },
        status=422 if request.method == "POST" and form.errors else 200,
    )


@require_GET
@login_required
@role_required(SEND_MESSAGE)
def recent_messages(request: HttpRequest) -> HttpResponse:
    recent = recent_sends(request.user)
    _, banner_done = _just_sent(request, recent)
    response = render(
        request,
        "messaging/send.html#recent",
        {"recent": recent, "carrier_down": carrier_unavailable(), "banner_done": banner_done},
    )
    if all(m.is_final for m in recent):
        # Nothing left to change on screen: tell htmx to stop polling until the next send.
        response.status_code = HttpResponseStopPolling.status_code
    return response


def send_from_form(request: HttpRequest, form: SendForm) -> Message:
    """Send (or schedule) what a valid Send form holds, as the signed-in person; the next form
    starts from the same DID (the session remembers it). New conversation sends through here too."""
    message = message_send(
        from_number=form.cleaned_data["from_did"],
        to=form.cleaned_data["to_did"],
        body=form.cleaned_data["message"],
        user=request.user,
        attachments=form.cleaned_data["attachments"],
        send_at=form.cleaned_data["send_at"],
    )
    request.session["from_did"] = message.our_number
    return message
