"""The Preferences page: what each person chooses for themselves (for now, their time zone)."""

from __future__ import annotations

from functools import cache
from zoneinfo import ZoneInfo, available_timezones

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from portal.middleware import SESSION_KEY, user_time_zone_name
from portal.models import UserPreferences


@cache
def time_zone_choices() -> list[tuple[str, str]]:
    return [(name, name.replace("_", " ")) for name in sorted(available_timezones())]


class PreferencesForm(forms.Form):
    time_zone = forms.ChoiceField(
        label="Time zone",
        choices=time_zone_choices,
        help_text="Every time in the portal is shown in this zone.",
    )


@require_http_methods(["GET", "POST"])
@login_required
def preferences(request: HttpRequest) -> HttpResponse:
    form = PreferencesForm(
        request.POST or None, initial={"time_zone": user_time_zone_name(request)}
    )
    if request.method == "POST" and form.is_valid():
        name = form.cleaned_data["time_zone"]
        UserPreferences.objects.update_or_create(user=request.user, defaults={"time_zone": name})
        request.session[SESSION_KEY] = name
        zone = timezone.localtime(timezone=ZoneInfo(name)).strftime("%Z")
        messages.success(request, f"Times now show in {name.replace('_', ' ')} ({zone}).")
        return redirect("preferences")
    return render(
        request,
        "portal/preferences.html",
        {"form": form, "portal_time_zone": settings.TIME_ZONE},
        status=422 if form.errors else 200,
    )
