"""Configure → Phone Numbers → Rent New Number: search the carrier's inventory, confirm one number
and its cost, rent it, and (in the same step) enable SMS and point its callback at this portal.

The search is the one page here that calls the carrier, and only when the person submits it (the
results say they are from CarrierX just now). Renting needs `numbers.change_callbacks` (Number
admins), checked in the view.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from phone_numbers.capabilities import in_words
from phone_numbers.enablement import number_messaging_set
from phone_numbers.forms import validate_callback_url
from phone_numbers.lifecycle import number_rent
from phone_numbers.models import CAP_SMS
from phone_numbers.places import PLACES
from phone_numbers.rent_forms import PAGE_SIZE, RentConfirmForm, RentSearchForm
from phone_numbers.selectors import portal_webhook_url
from phone_numbers.services import ChangeNotMade
from portal.carrierx import CarrierXError, available_filter, get_client
from portal.permissions import CHANGE_CALLBACKS
from portal.phones import format_number
from portal.roles import role_required

# The carrier's monthly fee for an SMS-enabled number (CARRIERX-MORE.md §3.4), charged from the
# month the number is enabled, on top of its rent.
ENABLEMENT_FEE = "0.03"


def _search(form: RentSearchForm) -> dict:
    data = form.cleaned_data
    place = data["near"]
    offset = data.get("offset") or 0
    filter_ = available_filter(
        country_code=data["country_code"],
        state=data["state"],
        npa=data["area_code"],
        capability_bits=(1, 2) if data["sms"] else (),
        near=(place.lat, place.lng) if place else None,
    )
    try:
        page = get_client().available_dids(filter=filter_, limit=PAGE_SIZE, offset=offset)
    except CarrierXError as err:
        return {"search_error": f"Could not search CarrierX: {err}. Nothing was rented."}
    rows = [
        {
            "phonenumber": item.get("phonenumber") or "",
            "formatted": format_number(item.get("phonenumber") or ""),
            "locality": item.get("locality") or "",
            "state": item.get("state") or "",
            "capabilities": in_words(item.get("capabilities") or 0),
            "sms": bool((item.get("capabilities") or 0) & CAP_SMS),
            "price": item.get("price") or "",
        }
        for item in page.items
        if item.get("phonenumber")
    ]
    return {
        "rows": rows,
        "read_at": timezone.now(),
        "offset": offset,
        "previous_offset": max(0, offset - PAGE_SIZE) if offset else None,
        "next_offset": offset + PAGE_SIZE if page.has_more else None,
    }


@require_GET
@login_required
def rent_search(request: HttpRequest) -> HttpResponse:
    searched = "country_code" in request.GET
    form = RentSearchForm(request.GET if searched else None)
    context = {"form": form, "places": PLACES, "fee": ENABLEMENT_FEE, "searched": searched}
    if searched and form.is_valid():
        context.update(_search(form))
        query = request.GET.copy()
        query.pop("offset", None)
        context["query"] = query.urlencode()
    return render(request, "numbers/rent.html", context, status=422 if form.errors else 200)


def _point_url() -> str:
    url = portal_webhook_url()
    try:
        validate_callback_url(url)
    except ValidationError:
        return ""
    return url


@require_POST
@login_required
@role_required(CHANGE_CALLBACKS)
def rent_confirm(request: HttpRequest) -> HttpResponse:
    """The confirmation step (the search's Rent button lands here), then the rent itself."""
    confirming = request.POST.get("step") == "confirm"
    form = RentConfirmForm(request.POST) if confirming else RentConfirmForm(initial=request.POST)
    shown = {
        key: request.POST.get(key, "")[:100]
        for key in ("phonenumber", "price", "locality", "state")
    }
    context = {
        "form": form,
        "fee": ENABLEMENT_FEE,
        "formatted": format_number(shown["phonenumber"]),
    }
    context.update(shown)
    if not confirming or not form.is_valid():
        return render(
            request, "numbers/rent_confirm.html", context, status=422 if confirming else 200
        )
    data = form.cleaned_data
    callback_url = _point_url() if data["point_here"] else ""
    try:
        did = number_rent(
            phonenumber=data["phonenumber"], user=request.user, callback_url=callback_url
        )
    except ChangeNotMade as err:
        return render(
            request, "numbers/rent_confirm.html", {**context, "error": str(err)}, status=422
        )
    messages.success(request, f"Rented {did.formatted}: it is in your Phone Numbers.")
    if data["point_here"] and not callback_url:
        messages.warning(
            request,
            f"This portal's webhook URL ({portal_webhook_url()}) cannot be reached by the carrier, "
            "so the number's SMS Callback URL was left empty.",
        )
    if data["enable_sms"] and did.capabilities & CAP_SMS:
        try:
            number_messaging_set(
                did=did, enabled=True, user=request.user, campaign_sid=data["campaign_sid"]
            )
        except ChangeNotMade as err:
            messages.error(request, f"{err} Try again under SMS Enablement.")
        else:
            messages.info(request, "SMS enablement asked for; its status follows below.")
    return redirect(did)
