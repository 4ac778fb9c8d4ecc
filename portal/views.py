from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.templatetags.static import static
from django.views.decorators.http import require_GET

from portal.permissions import SEND_MESSAGE, VIEW_INBOX

# Where people land after signing in: the first page their role may open.
LANDING_PAGES = [(SEND_MESSAGE, "messaging:send"), (VIEW_INBOX, "messaging:inbox")]


@require_GET
@login_required
def home(request: HttpRequest) -> HttpResponse:
    for permission, page in LANDING_PAGES:
        if request.user.has_perm(permission):
            return redirect(page)
    return redirect("numbers:list")  # everyone signed in may see the numbers


@require_GET
def favicon(request: HttpRequest) -> HttpResponse:
    # Browsers and tools ask for /favicon.ico without reading the page's <link rel="icon">.
    return redirect(static("img/favicon.svg"), permanent=True)
