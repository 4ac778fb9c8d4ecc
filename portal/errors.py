"""Error pages in the portal's look: each keeps the nav, says what happened and why, and offers a
way back. (500.html is rendered by Django's own handler with an empty context; see its template.)
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt

DEFAULT_403_REASON = "Your account has no role that opens this page; ask an administrator."


def _way_back(request: HttpRequest) -> str:
    """The page the user came from when it is on this site (and not this one), else ""."""
    referer = request.META.get("HTTP_REFERER", "")
    if (
        referer
        and url_has_allowed_host_and_scheme(
            referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
        and not referer.endswith(request.get_full_path())
    ):
        return referer
    return ""


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    # The role guards (portal.roles.role_required) put the reason in the exception; other
    # PermissionDenied raises may carry none.
    reason = str(exception) if exception and str(exception) else DEFAULT_403_REASON
    context = {"reason": reason, "back": _way_back(request)}
    return render(request, "403.html", context, status=403)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    return render(request, "404.html", {"back": _way_back(request)}, status=404)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """The form's security token was missing or stale (an old tab, a sign-in elsewhere, cookies
    off): nothing was saved, and going back and sending again fixes it."""
    return render(
        request, "403_csrf.html", {"back": _way_back(request), "detail": reason}, status=403
    )


@csrf_exempt  # the carrier posts without a CSRF token; a 403 would not say "no webhook here"
def webhook_not_found(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"error": "not found"}, status=404)
