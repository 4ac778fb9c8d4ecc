"""Configure → Phone Numbers: the DID list, a number's page, DID Groups and the Partner's callbacks.

Everyone signed in may look. These pages read only the local cache (phone_numbers/selectors.py)
and say when it was read: the carrier is called by the Sync button and the background task, never
by a page load. The views that change something are in phone_numbers/edit_views.py.
"""

from __future__ import annotations

import re

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import pluralize
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from messaging.services.detail_records import recoveries_for
from phone_numbers.capabilities import in_words
from phone_numbers.enablement import health_problems
from phone_numbers.forms import DidGroupForm
from phone_numbers.models import CAP_SMS, Did, DidGroup, NumberChange
from phone_numbers.selectors import (
    callback_history,
    did_partner,
    effective_callback,
    numbers_last_sync,
    partner_current,
    partner_dids_without_own_callback,
    partners_by_sid,
)
from phone_numbers.sync import numbers_sync
from portal.carrierx import CarrierXError
from portal.lookups import sid_or_404
from portal.phones import number_matches

HISTORY_LIMIT = 50


def panel_template(request: HttpRequest, template: str) -> str:
    return f"{template}#callback-panel" if request.htmx else template


def back_to(request: HttpRequest, default: str) -> HttpResponse:
    """Redirect to the page the form came from (`next`), but never off this site."""
    back = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        return redirect(back)
    return redirect(default)


# --- Phone Numbers list ------------------------------------------------------------------------


# The list's "Show" filter: a name → which numbers it keeps (after the callbacks are resolved).
SHOW_FILTERS = {
    "sms-off": (
        "SMS not enabled",
        lambda did, effective: (
            bool(did.capabilities & CAP_SMS) and not did.active_capabilities & CAP_SMS
        ),
    ),
    "failed": ("Enablement failed", lambda did, effective: did.messaging_status == "failed"),
    "astray": (
        "Callback not this portal",
        lambda did, effective: did.texts and not effective.reaches_portal,
    ),
}


@require_GET
@login_required
def number_list(request: HttpRequest) -> HttpResponse:
    dids = Did.objects.rented().select_related("group")
    number = request.GET.get("number", "").strip()
    if number:
        # People type numbers any way ("+1 (516) 206-", "5162065575"); we store bare digits.
        digits = re.sub(r"\D", "", number)
        dids = dids.filter(number_matches("phonenumber", number)) if digits else dids.none()
    group = request.GET.get("group", "")
    if group == "none":
        dids = dids.filter(group__isnull=True)
    elif "\x00" in group:  # no SID holds a NUL, and PostgreSQL refuses one even to compare
        dids = dids.none()
    elif group:
        dids = dids.filter(group__did_group_sid=group)

    partners = partners_by_sid()
    rows = [
        {
            "did": did,
            "effective": effective_callback(did, partners=partners),
            "health": health_problems(did),
        }
        for did in dids
    ]
    show = request.GET.get("show", "")
    if show in SHOW_FILTERS:
        keep = SHOW_FILTERS[show][1]
        rows = [row for row in rows if keep(row["did"], row["effective"])]
    else:
        show = ""
    return render(
        request,
        "numbers/list.html",
        {
            "rows": rows,
            # Voice-only numbers get no SMS callbacks: where theirs points does not matter.
            "not_reaching": sum(
                row["did"].texts and not row["effective"].reaches_portal for row in rows
            ),
            "groups": DidGroup.objects.all(),
            "number": number,
            "group": group,
            "show": show,
            "show_filters": [(key, label) for key, (label, _) in SHOW_FILTERS.items()],
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
    return back_to(request, "numbers:list")


# --- A number's page ---------------------------------------------------------------------------


def did_panel(did_sid: str) -> dict:
    did = get_object_or_404(Did.objects.select_related("group"), did_sid=sid_or_404(did_sid))
    partners = partners_by_sid()
    partner = did_partner(did, partners=partners)
    return {
        "did": did,
        "partner": partner,
        "effective": effective_callback(did, partners=partners),
        "group_form": DidGroupForm(initial={"did_group_sid": did.group}),
        "history": callback_history(did=did, group=did.group, partner=partner)[:HISTORY_LIMIT],
    }


def number_page(did_sid: str) -> dict:
    """Everything a number's page shows: its sections, the callback panel and its history."""
    context = did_panel(did_sid)
    did = context["did"]
    return {
        **context,
        "capabilities_words": in_words(did.capabilities),
        "active_words": in_words(did.active_capabilities),
        "health": health_problems(did),
        "number_history": NumberChange.objects.filter(did_sid=did.did_sid)[:HISTORY_LIMIT],
    }


@require_GET
@login_required
@vary_on_headers("HX-Request")
def number_detail(request: HttpRequest, did_sid: str) -> HttpResponse:
    context = number_page(did_sid)
    if request.user.has_perm("numbers.change_callbacks"):
        # What the carrier's detail records brought that callbacks did not: a callback problem.
        context["recoveries"] = recoveries_for(context["did"].phonenumber)
    return render(request, panel_template(request, "numbers/detail.html"), context)


# --- DID Groups --------------------------------------------------------------------------------


@require_GET
@login_required
def group_list(request: HttpRequest) -> HttpResponse:
    groups = DidGroup.objects.annotate(did_count=Count("dids"))
    return render(request, "numbers/groups.html", {"groups": groups})


def group_panel(did_group_sid: str) -> dict:
    group = get_object_or_404(DidGroup, did_group_sid=sid_or_404(did_group_sid))
    return {
        "group": group,
        "dids": group.dids.all(),
        "history": callback_history(group=group)[:HISTORY_LIMIT],
    }


@require_GET
@login_required
@vary_on_headers("HX-Request")
def group_detail(request: HttpRequest, did_group_sid: str) -> HttpResponse:
    template = panel_template(request, "numbers/group_detail.html")
    return render(request, template, group_panel(did_group_sid))


# --- Global Settings → Callbacks (the Partner) ---------------------------------------------------


def partner_panel() -> dict:
    partner = partner_current()
    if partner is None:
        return {"partner": None, "history": []}
    return {
        "partner": partner,
        "history": callback_history(partner=partner)[:HISTORY_LIMIT],
        "following_partner": partner_dids_without_own_callback(partner),
    }


@require_GET
@login_required
@vary_on_headers("HX-Request")
def partner_callbacks(request: HttpRequest) -> HttpResponse:
    template = panel_template(request, "numbers/partner_callbacks.html")
    return render(request, template, partner_panel())
