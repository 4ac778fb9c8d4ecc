"""The Preferences page: what each person chooses for themselves — their time zone and, for
people who read the inbox, which new messages raise a desktop notification. It only ever edits
the signed-in person's own row."""

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
from portal.permissions import VIEW_INBOX

NotifyOn = UserPreferences.NotifyOn

NOTIFY_SAVED = {
    NotifyOn.NONE: "No desktop notifications; the tab’s title still counts unread conversations.",
    NotifyOn.MINE: "Desktop notifications for new messages in conversations assigned to you.",
    NotifyOn.MINE_AND_UNASSIGNED: (
        "Desktop notifications for new messages in conversations assigned to you or to nobody."
    ),
}


@cache
def time_zone_choices() -> list[tuple[str, str]]:
    return [(name, name.replace("_", " ")) for name in sorted(available_timezones())]


class PreferencesForm(forms.Form):
    time_zone = forms.ChoiceField(
        label="Time zone",
        choices=time_zone_choices,
        help_text="Every time in the portal is shown in this zone.",
    )
    # Not required: a form sent without it (a script, an older page) leaves the choice as it was.
    notify_on = forms.ChoiceField(
        label="Notify me of new messages in",
        required=False,
        choices=[
            (NotifyOn.NONE, "None: no desktop notifications"),
            (NotifyOn.MINE, "Mine: open conversations assigned to me"),
            (
                NotifyOn.MINE_AND_UNASSIGNED,
                "Mine and Unassigned: also open conversations nobody has taken yet",
            ),
        ],
        widget=forms.RadioSelect,
    )

    def __init__(self, *args, may_notify: bool, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not may_notify:  # nothing would ever notify someone who cannot read the inbox
            del self.fields["notify_on"]


@require_http_methods(["GET", "POST"])
@login_required
def preferences(request: HttpRequest) -> HttpResponse:
    may_notify = request.user.has_perm(VIEW_INBOX)
    current = {"time_zone": user_time_zone_name(request)}
    if may_notify:
        current["notify_on"] = UserPreferences.notify_on_for(request.user)
    form = PreferencesForm(request.POST or None, initial=current, may_notify=may_notify)
    if request.method == "POST" and form.is_valid():
        name = form.cleaned_data["time_zone"]
        chosen = {"time_zone": name}
        if notify := form.cleaned_data.get("notify_on"):
            chosen["notify_on"] = notify
        # Keyed by the signed-in person alone: nothing posted can name another user's row.
        UserPreferences.objects.update_or_create(user=request.user, defaults=chosen)
        request.session[SESSION_KEY] = name
        zone = timezone.localtime(timezone=ZoneInfo(name)).strftime("%Z")
        messages.success(request, f"Times now show in {name.replace('_', ' ')} ({zone}).")
        if notify and notify != current.get("notify_on"):
            messages.success(request, NOTIFY_SAVED[notify])
        return redirect("preferences")
    return render(
        request,
        "portal/preferences.html",
        {"form": form, "portal_time_zone": settings.TIME_ZONE},
        status=422 if form.errors else 200,
    )
