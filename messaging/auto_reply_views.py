from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from messaging.forms import AutoReplyForm
from messaging.models import AutoReply
from phone_numbers.models import Did


@require_GET
@login_required
def auto_replies(request: HttpRequest) -> HttpResponse:
    dids = Did.objects.sms_capable().select_related("auto_reply")
    rows = [
        (did, AutoReplyForm(instance=getattr(did, "auto_reply", None) or AutoReply(did=did)))
        for did in dids
    ]
    can_edit = request.user.has_perm("numbers.change_callbacks")
    return render(request, "messaging/auto_replies.html", {"rows": rows, "can_edit": can_edit})


@require_POST
@login_required
@permission_required("numbers.change_callbacks", raise_exception=True)
def auto_reply_save(request: HttpRequest, did_sid: str) -> HttpResponse:
    did = get_object_or_404(Did, did_sid=did_sid)
    rule = AutoReply.objects.filter(did=did).first() or AutoReply(did=did)
    form = AutoReplyForm(request.POST, instance=rule)
    if form.is_valid():
        form.save()
        state = "on" if rule.enabled else "off"
        messages.success(request, f"Auto-reply on {did.formatted} is {state}.")
        return redirect("messaging:auto_replies")
    return render(
        request,
        "messaging/auto_replies.html",
        {"rows": [(did, form)], "can_edit": True},
        status=422,
    )
