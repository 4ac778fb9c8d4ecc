"""A number's own changes: rename it, enable or disable SMS on it (and follow the enablement
live), release it.

Looking is for everyone signed in; every POST needs `numbers.change_callbacks` (Number admins),
checked in the view. Each answers the full page or, for htmx, the section it changed (the same
partial of numbers/detail.html).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from phone_numbers.enablement import number_messaging_set
from phone_numbers.lifecycle import number_release, number_rename
from phone_numbers.models import Did
from phone_numbers.services import ChangeNotMade
from phone_numbers.views import number_page
from portal.lookups import sid_or_404
from portal.permissions import CHANGE_CALLBACKS
from portal.roles import role_required

MAX_NAME = 200
RATE_RANGE = (Decimal("0.01"), Decimal(1000))


def _did(did_sid: str) -> Did:
    return get_object_or_404(Did.objects.select_related("group"), did_sid=sid_or_404(did_sid))


def _answer(request: HttpRequest, did: Did, partial: str, *, notice="", error="") -> HttpResponse:
    if request.htmx:
        context = {
            **number_page(did.did_sid),
            f"{partial}_notice": notice,
            f"{partial}_error": error,
        }
        return render(request, f"numbers/detail.html#{partial}", context)
    if error:
        messages.error(request, error)
    elif notice:
        messages.success(request, notice)
    return redirect(did)


@require_POST
@login_required
@role_required(CHANGE_CALLBACKS)
def number_name_edit(request: HttpRequest, did_sid: str) -> HttpResponse:
    did = _did(did_sid)
    name = " ".join(request.POST.get("name", "").split())
    if not name or len(name) > MAX_NAME:
        return _answer(request, did, "details", error=f"Type a name of 1 to {MAX_NAME} characters.")
    try:
        did = number_rename(did=did, name=name, user=request.user)
    except ChangeNotMade as err:
        return _answer(request, did, "details", error=str(err))
    return _answer(request, did, "details", notice=f"CarrierX accepted the name {did.name!r}.")


@require_POST
@login_required
@role_required(CHANGE_CALLBACKS)
def number_send_rate_edit(request: HttpRequest, did_sid: str) -> HttpResponse:
    """The campaign pace of this number (messages a second): ours alone, the carrier has no such
    field, so it is saved here without a call."""
    did = _did(did_sid)
    low, high = RATE_RANGE
    try:
        rate = Decimal(request.POST.get("send_rate", "").strip()[:20]).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        rate = None
    if rate is None or not rate.is_finite() or not low <= rate <= high:
        return _answer(
            request, did, "details", error=f"Type a rate from {low} to {high} messages a second."
        )
    Did.objects.filter(pk=did.pk).update(send_rate=rate)
    notice = f"Campaigns now send from {did.formatted} at most {rate.normalize():f} a second."
    return _answer(request, did, "details", notice=notice)


@require_http_methods(["GET", "POST"])
@login_required
@vary_on_headers("HX-Request")
def number_messaging(request: HttpRequest, did_sid: str) -> HttpResponse:
    """GET: the SMS Enablement section as it stands in our copy (the page polls it while the
    carrier works). POST: enable or disable SMS."""
    if request.method == "GET":
        did = _did(did_sid)
        if not request.htmx:
            return redirect(did)
        # A settled section has no poll trigger, so swapping it in ends the polling.
        return render(request, "numbers/detail.html#enablement", number_page(did_sid))
    return _messaging_post(request, did_sid)


@role_required(CHANGE_CALLBACKS)
def _messaging_post(request: HttpRequest, did_sid: str) -> HttpResponse:
    did = _did(did_sid)
    if did.released:
        return _answer(request, did, "enablement", error="This number is released.")
    enabled = request.POST.get("enabled") == "true"
    campaign = request.POST.get("campaign_sid", "").strip()
    type_ = request.POST.get("type", "a2p")
    if type_ not in ("a2p", "p2p") or not re.fullmatch(r"[A-Za-z0-9-]{0,64}", campaign):
        return _answer(
            request,
            did,
            "enablement",
            error="Pick a2p or p2p; a campaign SID is letters, digits, -.",
        )
    try:
        number_messaging_set(
            did=did, enabled=enabled, user=request.user, type_=type_, campaign_sid=campaign
        )
    except ChangeNotMade as err:
        return _answer(request, did, "enablement", error=str(err))
    verb = "enable" if enabled else "disable"
    return _answer(
        request,
        did,
        "enablement",
        notice=f"CarrierX is working on it ({verb} SMS); the status below follows it.",
    )


@require_http_methods(["GET", "POST"])
@login_required
@role_required(CHANGE_CALLBACKS)
def number_release_view(request: HttpRequest, did_sid: str) -> HttpResponse:
    """GET: what releasing stops, and the box to type the number in. POST: release it."""
    did = _did(did_sid)
    context = {"did": did}
    if did.released:
        messages.info(request, f"{did.formatted} is already released.")
        return redirect(did)
    if request.method == "POST":
        typed = re.sub(r"\D", "", request.POST.get("confirm_number", ""))
        if typed not in (did.phonenumber, did.phonenumber[1:]):
            context["error"] = (
                f"Type the number, {did.formatted}, to confirm; nothing was released."
            )
            return render(request, "numbers/release.html", context, status=422)
        try:
            number_release(did=did, user=request.user)
        except ChangeNotMade as err:
            context["error"] = str(err)
            return render(request, "numbers/release.html", context, status=422)
        messages.success(
            request,
            f"Released {did.formatted}. CarrierX keeps it aging; its messages stay readable here.",
        )
        return redirect(did)
    return render(request, "numbers/release.html", context)
