from __future__ import annotations

from collections.abc import Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

# The session keeps the signed-in user's zone, so only a session's first request reads it from the
# database; the Preferences page writes it there too when it changes.
SESSION_KEY = "portal_time_zone"


def user_time_zone_name(request: HttpRequest) -> str:
    """The IANA name of the zone this person sees times in: their preference, else TIME_ZONE."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return settings.TIME_ZONE
    name = request.session.get(SESSION_KEY)
    if name is None:
        from portal.models import UserPreferences

        stored = UserPreferences.objects.filter(user=user).values_list("time_zone", flat=True)
        name = next(iter(stored), "") or settings.TIME_ZONE
        request.session[SESSION_KEY] = name
    return name


class TimeZoneMiddleware:
    """Renders every time on the page in the signed-in user's time zone."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            timezone.activate(ZoneInfo(user_time_zone_name(request)))
        except (ZoneInfoNotFoundError, ValueError):
            timezone.deactivate()  # a zone the system no longer knows: the portal's own
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
