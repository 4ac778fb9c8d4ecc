"""Configure → Phone Numbers: the DID list, a number's page, DID Groups and the Partner's callbacks.

Everyone signed in may look; changing a callback or a group needs `numbers.change_callbacks`
(the Number admins role), checked here in every view that changes something. Each edit view serves
both the full page (no JavaScript: plain POST, redirect after success) and the htmx fragment (the
panel that swaps in place), from the same template partial.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from phone_numbers.forms import CallbackURLForm, DidGroupForm
from phone_numbers.models import Did, DidGroup, Partner
from phone_numbers.services import (
    ChangeNotMade,
    callback_history,
    did_partner,
    did_set_callback,
    did_set_group,
    effective_callback,
    group_set_callback,
    numbers_last_sync,
    numbers_sync,
    numbers_sync_if_empty,
    partner_current,
    partner_set_sms_callback,
    portal_webhook_url,
)
from portal.carrierx import CarrierXError
from portal.roles import CHANGE_CALLBACKS, role_required

CHANGE_PERMISSION = CHANGE_CALLBACKS
HISTORY_LIMIT = 50


def _sync_if_empty(request: HttpRequest) -> None:
    if problem := numbers_sync_if_empty():
        messages.error(request, problem)


def _partners() -> dict[str, Partner]:
    return {p.partner_sid: p for p in Partner.objects.all()}


def _panel(request: HttpRequest, template: str) -> str:
    return f"{template}#callback-panel" if request.htmx else template


def _callback_form(request: HttpRequest, current: str) -> CallbackURLForm:
    if request.method != "POST":
        return CallbackURLForm(initial={"callback_url": current})
    # The one-click buttons send an action rather than a typed URL; the result is validated the
    # same way, so every URL that reaches the carrier has passed the one validator.
    action = request.POST.get("action")
    if action == "clear":
        return CallbackURLForm({"callback_url": ""})
    if action == "point":
        return CallbackURLForm({"callback_url": portal_webhook_url()})
    return CallbackURLForm(request.POST)


def _saved_notice(url: str) -> str:
    if not url:
        return "CarrierX accepted the change: the SMS Callback URL is cleared."
    return "CarrierX accepted the new SMS Callback URL."


def _edit_callback(
    request: HttpRequest,
    *,
    template: str,
    panel: Callable[[], dict],
    current: str,
    save: Callable[[str], object],
    done_url: str,
) -> HttpResponse:
    """The shared Edit → SMS Callback URL → Save flow of DIDs, groups and the partner.

    `panel()` builds the panel's context (called after a save, so it shows the carrier's answer);
    `save(url)` is the service call, which raises ChangeNotMade with the carrier's reason.
    """
    form = _callback_form(request, current)
    if request.method == "POST" and form.is_valid():
        url = form.cleaned_data["callback_url"]
        try:
            save(url)
        except ChangeNotMade as err:
            form.add_error(None, str(err))
        else:
            notice = _saved_notice(url)
            if request.htmx:
                return render(request, _panel(request, template), {**panel(), "notice": notice})
            messages.success(request, notice)
            return redirect(done_url)
    # htmx swaps only 2xx answers, so an htmx form with errors comes back 200; a plain POST
    # with errors says 422, as the Messaging page does.
    status = 422 if request.method == "POST" and not request.htmx else 200
    return render(
        request,
        _panel(request, template),
        {**panel(), "form": form, "editing": True},
        status=status,
    )


# --- Phone Numbers list ------------------------------------------------------------------------


@require_GET
@login_required
def number_list(request: HttpRequest) -> HttpResponse:
    _sync_if_empty(request)
    dids = Did.objects.select_related("group")
    number = request.GET.get("number", "").strip()
    if number:
        # People type numbers any way ("+1 (516) 206-", "5162065575"); we store bare digits.
        digits = re.sub(r"\D", "", number)
        dids = dids.filter(phonenumber__contains=digits) if digits else dids.none()
    group = request.GET.get("group", "")
    if group == "none":
        dids = dids.filter(group__isnull=True)
    elif group:
        dids = dids.filter(group__did_group_sid=group)

    partners = _partners()
    rows = [{"did": did, "effective": effective_callback(did, partners=partners)} for did in dids]
    return render(
        request,
        "numbers/list.html",
        {
            "rows": rows,
            "not_reaching": sum(not row["effective"].reaches_portal for row in rows),
            "groups": DidGroup.objects.all(),
            "number": number,
            "group": group,
            "last_sync": numbers_last_sync(),
        },
    )


@require_POST
@login_required
def number_sync(request: HttpRequest) -> HttpResponse:
    # Re-reading the carrier changes nothing there, so everyone who can see the list may do it.
    try:
        result = numbers_sync()
    except CarrierXError as err:
        messages.error(request, f"Could not sync with CarrierX; the list is unchanged: {err}")
    else:
        messages.success(
            request,
            f"Synced {result.dids} number{pluralize(result.dids)} and {result.groups} "
            f"DID group{pluralize(result.groups)} from CarrierX.",
        )
    # Back to the list as it was filtered, but never off this site.
    back = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        return redirect(back)
    return redirect("numbers:list")


# --- A number's page ---------------------------------------------------------------------------


def _did_panel(did_sid: str) -> dict:
    did = get_object_or_404(Did.objects.select_related("group"), did_sid=did_sid)
    partners = _partners()
    partner = did_partner(did, partners=partners)
    return {
        "did": did,
        "partner": partner,
        "effective": effective_callback(did, partners=partners),
        "group_form": DidGroupForm(initial={"did_group_sid": did.group}),
        "history": callback_history(did=did, group=did.group, partner=partner)[:HISTORY_LIMIT],
    }


@require_GET
@login_required
@vary_on_headers("HX-Request")
def number_detail(request: HttpRequest, did_sid: str) -> HttpResponse:
    return render(request, _panel(request, "numbers/detail.html"), _did_panel(did_sid))


@require_http_methods(["GET", "POST"])
@login_required
@role_required(CHANGE_PERMISSION)
@vary_on_headers("HX-Request")
def did_callback_edit(request: HttpRequest, did_sid: str) -> HttpResponse:
    did = get_object_or_404(Did, did_sid=did_sid)
    return _edit_callback(
        request,
        template="numbers/detail.html",
        panel=lambda: _did_panel(did_sid),
        current=did.callback_url,
        save=lambda url: did_set_callback(did=did, url=url, user=request.user),
        done_url=did.get_absolute_url(),
    )


@require_POST
@login_required
@role_required(CHANGE_PERMISSION)
def did_group_edit(request: HttpRequest, did_sid: str) -> HttpResponse:
    did = get_object_or_404(Did.objects.select_related("group"), did_sid=did_sid)
    form = DidGroupForm(request.POST)
    notice = error = ""
    if not form.is_valid():
        error = "Pick a DID group from the list."
    else:
        group = form.cleaned_data["did_group_sid"]
        try:
            did_set_group(did=did, group=group, user=request.user)
        except ChangeNotMade as err:
            error = str(err)
        else:
            notice = f"Moved into {group}." if group else "Moved out of its DID group."
    if request.htmx:
        return render(
            request,
            "numbers/detail.html#callback-panel",
            {**_did_panel(did_sid), "notice": notice, "error": error},
        )
    if error:
        messages.error(request, error)
    else:
        messages.success(request, notice)
    return redirect(did)


# --- DID Groups --------------------------------------------------------------------------------


@require_GET
@login_required
def group_list(request: HttpRequest) -> HttpResponse:
    _sync_if_empty(request)
    groups = DidGroup.objects.annotate(did_count=Count("dids"))
    return render(request, "numbers/groups.html", {"groups": groups})


def _group_panel(did_group_sid: str) -> dict:
    group = get_object_or_404(DidGroup, did_group_sid=did_group_sid)
    return {
        "group": group,
        "dids": group.dids.all(),
        "history": callback_history(group=group)[:HISTORY_LIMIT],
    }


@require_GET
@login_required
@vary_on_headers("HX-Request")
def group_detail(request: HttpRequest, did_group_sid: str) -> HttpResponse:
    template = _panel(request, "numbers/group_detail.html")
    return render(request, template, _group_panel(did_group_sid))


@require_http_methods(["GET", "POST"])
@login_required
@role_required(CHANGE_PERMISSION)
@vary_on_headers("HX-Request")
def group_callback_edit(request: HttpRequest, did_group_sid: str) -> HttpResponse:
    group = get_object_or_404(DidGroup, did_group_sid=did_group_sid)
    return _edit_callback(
        request,
        template="numbers/group_detail.html",
        panel=lambda: _group_panel(did_group_sid),
        current=group.callback_url,
        save=lambda url: group_set_callback(group=group, url=url, user=request.user),
        done_url=group.get_absolute_url(),
    )


# --- Global Settings → Callbacks (the Partner) ---------------------------------------------------


def _partner_panel() -> dict:
    partner = partner_current()
    history = callback_history(partner=partner)[:HISTORY_LIMIT] if partner else []
    return {"partner": partner, "history": history}


@require_GET
@login_required
@vary_on_headers("HX-Request")
def partner_callbacks(request: HttpRequest) -> HttpResponse:
    _sync_if_empty(request)
    return render(request, _panel(request, "numbers/partner_callbacks.html"), _partner_panel())


@require_http_methods(["GET", "POST"])
@login_required
@role_required(CHANGE_PERMISSION)
@vary_on_headers("HX-Request")
def partner_callback_edit(request: HttpRequest) -> HttpResponse:
    partner = partner_current()
    if partner is None:
        raise Http404("No partner yet: sync with CarrierX first.")
    return _edit_callback(
        request,
        template="numbers/partner_callbacks.html",
        panel=_partner_panel,
        current=partner.sms_callback_url,
        save=lambda url: partner_set_sms_callback(partner=partner, url=url, user=request.user),
        done_url=reverse("numbers:partner_callbacks"),
    )
