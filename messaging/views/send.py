"""The Messaging page: the Send form and the live list of recent sends."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import HttpResponseStopPolling

from messaging.forms import SendForm
from messaging.selectors.messages import carrier_unavailable, recent_sends
from messaging.selectors.visibility import sender_dids
from messaging.services.outbound import message_send
from portal.permissions import SEND_MESSAGE
from portal.roles import role_required


@require_http_methods(["GET", "POST"])
@login_required
@role_required(SEND_MESSAGE)
def send_page(request: HttpRequest) -> HttpResponse:
    senders = sender_dids(request.user)
    dids = senders.dids
    # Staff usually send several texts from one number: keep the last From DID selected.
    preselected = request.session.get("from_did") or senders.default
    form = SendForm(request.POST or None, dids=dids, initial={"from_did": preselected})
    if request.method == "POST" and form.is_valid():
        message = message_send(
            from_number=form.cleaned_data["from_did"],
            to=form.cleaned_data["to_did"],
            body=form.cleaned_data["message"],
            user=request.user,
        )
        request.session["from_did"] = message.our_number
        messages.success(
            request, f"Sending to {message.their_formatted}; its status follows below."
        )
        return redirect("messaging:send")
    return render(
        request,
        "messaging/send.html",
        {
            "form": form,
            "recent": recent_sends(request.user),
            "has_dids": bool(dids),
            "carrier_down": carrier_unavailable(),
        },
        status=422 if request.method == "POST" and form.errors else 200,
    )


@require_GET
@login_required
@role_required(SEND_MESSAGE)
def recent_messages(request: HttpRequest) -> HttpResponse:
    recent = recent_sends(request.user)
    response = render(
        request,
        "messaging/send.html#recent",
        {"recent": recent, "carrier_down": carrier_unavailable()},
    )
    if all(m.is_final for m in recent):
        # Nothing left to change on screen: tell htmx to stop polling until the next send.
        response.status_code = HttpResponseStopPolling.status_code
    return response
