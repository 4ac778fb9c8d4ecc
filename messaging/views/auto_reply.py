"""Configure → Auto-reply: one table of the SMS-capable DIDs with their auto-reply state, and an
edit form per DID that opens in its row (htmx) or, without JavaScript, on the same page.

Everyone signed in may look, as on the other Configure pages; changing needs the Number admins
role (`numbers.change_callbacks`), checked in the views that change something.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods
from django.views.decorators.vary import vary_on_headers

from messaging.forms import AutoReplyForm
from messaging.models import AutoReply
from messaging.services.auto_reply import auto_reply_set
from phone_numbers.models import Did
from portal.lookups import sid_or_404
from portal.permissions import CHANGE_CALLBACKS
from portal.roles import role_required

TEMPLATE = "messaging/auto_replies.html"


def _rule(did: Did) -> AutoReply:
    """The DID's auto-reply, or an unsaved one with the defaults (off) when it has none yet."""
    return getattr(did, "auto_reply", None) or AutoReply(did=did)


def _form(did: Did, data=None) -> AutoReplyForm:
    # One form per DID on one page: ids carry the DID so every label points at its own field.
    # The field names stay plain; only one form is ever posted.
    form = AutoReplyForm(data, instance=_rule(did), auto_id=f"auto-reply-{did.pk}-%s")
    # Edit replaced the button that had focus: carry it into the form that opened (htmx focuses
    # an autofocus element it swaps in; a full page load does the same).
    form.fields["enabled"].widget.attrs["autofocus"] = True
    return form


def _rows(editing: Did | None = None, form: AutoReplyForm | None = None) -> list[dict]:
    dids = Did.objects.sms_capable().select_related("auto_reply").order_by("phonenumber")
    rows = []
    for did in dids:
        row = {"did": did, "rule": _rule(did)}
        if editing is not None and did.pk == editing.pk:
            row["form"] = form or _form(did)
        rows.append(row)
    return rows


def _page(request: HttpRequest, **context) -> dict:
    return {"can_edit": request.user.has_perm(CHANGE_CALLBACKS), **context}


@require_GET
@login_required
@vary_on_headers("HX-Request")
def auto_replies(request: HttpRequest) -> HttpResponse:
    # htmx's Cancel asks for one DID's row back as it is shown in the table.
    if request.htmx and (did_sid := request.GET.get("did")):
        did = get_object_or_404(
            Did.objects.select_related("auto_reply"), did_sid=sid_or_404(did_sid)
        )
        row = {"did": did, "rule": _rule(did), "focus": True}
        return render(request, f"{TEMPLATE}#row", _page(request, row=row))
    return render(request, TEMPLATE, _page(request, rows=_rows()))


@require_http_methods(["GET", "POST"])
@login_required
@role_required(CHANGE_CALLBACKS)
@vary_on_headers("HX-Request")
def auto_reply_save(request: HttpRequest, did_sid: str) -> HttpResponse:
    """GET: the DID's edit form (its row with htmx, else the page with that row open).
    POST: save it; htmx gets the row back as shown in the table, a plain POST the page."""
    did = get_object_or_404(Did.objects.select_related("auto_reply"), did_sid=sid_or_404(did_sid))
    form = _form(did, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        rule = auto_reply_set(did=did, **form.cleaned_data)
        notice = f"Auto-reply on {did.formatted} is {'on' if rule.enabled else 'off'}."
        if request.htmx:
            row = {"did": did, "rule": rule, "focus": True}
            return render(request, f"{TEMPLATE}#saved", _page(request, row=row, notice=notice))
        messages.success(request, notice)
        return redirect("messaging:auto_replies")
    if request.htmx:
        # htmx swaps only 2xx answers, so the form with its errors comes back 200.
        row = {"did": did, "rule": _rule(did), "form": form}
        return render(request, f"{TEMPLATE}#row", _page(request, row=row))
    status = 422 if request.method == "POST" else 200
    return render(request, TEMPLATE, _page(request, rows=_rows(did, form)), status=status)
