"""The composer's landline warning: a fragment under the To DID field, filled from the kept
lookups (the carrier is asked in the background, never in this request)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from messaging.services.lookups import lookup_cached
from portal.permissions import SEND_MESSAGE
from portal.phones import normalize_number
from portal.roles import role_required

# The fragment asks again this many times, a second apart, while the lookup is under way.
MAX_TRIES = 5


@require_GET
@login_required
@role_required(SEND_MESSAGE)
def number_check(request: HttpRequest) -> HttpResponse:
    context = {"lookup": None, "again": None}
    if settings.LANDLINE_CHECK:
        try:
            number = normalize_number(request.GET.get("to_did", "")[:64])
        except ValidationError:
            number = ""
        try:
            tries = int(request.GET.get("try", "0"))
        except ValueError:
            tries = MAX_TRIES
        if number:
            lookup = lookup_cached(number)
            context["lookup"] = lookup
            if lookup is None and tries < MAX_TRIES:
                context["again"] = {"to_did": number, "try": tries + 1}
    return render(request, "messaging/_number_check.html", context)
