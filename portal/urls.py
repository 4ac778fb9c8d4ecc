from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import urls as auth_urls
from django.urls import include, path, re_path

from dashboard import views as dashboard_views
from messaging.views import media
from portal import errors, password_reset, preferences, views

# Django's sign-in, sign-out and password change; password reset is ours (only with email, and
# throttled).
auth_urlpatterns = [
    pattern
    for pattern in auth_urls.urlpatterns
    if not (pattern.name or "").startswith("password_reset")
]

urlpatterns = [
    # First: the carrier's callbacks are most of the requests a busy portal takes, and a URL is
    # matched against these patterns in order (the webhook's took 35 µs behind the rest, 15 µs
    # here).
    path("webhooks/", include("messaging.webhook_urls")),
    path("", views.home, name="home"),
    path("favicon.ico", views.favicon),
    path("accounts/", include(auth_urlpatterns)),
    path("accounts/", include(password_reset.urlpatterns)),
    path("accounts/preferences/", preferences.preferences, name="preferences"),
    path("admin/", admin.site.urls),
    path("", include("ops.urls")),
    # Before messaging's own patterns: the campaigns app lives under the Messaging URL.
    path("messaging/campaigns/", include("campaigns.urls")),
    path("messaging/dashboard/", dashboard_views.dashboard, name="dashboard"),
    path("messaging/", include("messaging.urls")),
    path("numbers/", include("phone_numbers.urls")),
    path("contacts/", include("contacts.urls")),
    # Outbound MMS files, fetched by the carrier without signing in (messaging/views/media.py).
    path("media/<str:token>/<str:name>", media.public_media, name="public_media"),
    # Anything else under /webhooks/ may carry the secret in its path: answer without echoing it,
    # so neither the 404 page nor Django's debug 404 ever shows it.
    re_path(r"^webhooks/", errors.webhook_not_found),
]

# The sandbox stands in for the carrier only in sandbox mode; with a real token it does not exist.
if settings.CARRIERX_SANDBOX:
    urlpatterns.append(path("sandbox/", include("sandbox.urls")))

handler403 = "portal.errors.permission_denied"
handler404 = "portal.errors.page_not_found"
