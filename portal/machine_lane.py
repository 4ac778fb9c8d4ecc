"""Machines' requests skip the middleware that serves people.

Two kinds of request come from a machine, never from a person's browser:
- the carrier's callbacks to our webhook;
- in sandbox mode, calls to the sandbox's Core API (`/sandbox/core/...`), the carrier's stand-in,
  which the real carrier answers from servers that know nothing of our pages.

Each is JSON with no session. It signs no one in (the webhook checks its secret, the API a bearer
token), is exempt from CSRF, sets no message, needs no CSP or frame headers, is no htmx request and
no login attempt for django-axes. Walking a callback through those twelve middleware was about a
fifth of the webhook's CPU beyond a bare view's, measured in process (bench/RESULTS.md, run AC).

This middleware sits after `RequestIdMiddleware` and `SecurityMiddleware`, so such a request
still gets its request id, its log line and the HTTPS redirect, and then calls its view directly.
Every other request goes on down the chain; so does a path under a lane's prefix that is not a
lane's URL (a wrong shape, a missing slash), and it is answered as before.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.urls import NoReverseMatch, Resolver404, resolve, reverse

# The webhook's URL name: only that view takes the lane under its prefix (its path up to the
# secret).
CALLBACK_URL_NAME = "webhook"
# The sandbox's catch-all for its Core API: every URL under its path is the API.
SANDBOX_API_URL_NAME = "sandbox:unknown_route"


class MachineLaneMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self._lanes: tuple[tuple[str, str | None], ...] | None = None

    @property
    def lanes(self) -> tuple[tuple[str, str | None], ...]:
        """(path prefix, the one URL name under it that takes the lane, or None: every URL under
        it does), read on first use (the URLconf may import what imports this module). A URL
        the URLconf lacks (the sandbox outside sandbox mode, the benchmarks' bare views) has no
        lane; with none, every request walks the chain."""
        if self._lanes is None:
            lanes = []
            with contextlib.suppress(NoReverseMatch):
                path = reverse(CALLBACK_URL_NAME, kwargs={"secret": "-"})
                lanes.append((path.rsplit("/", 2)[0] + "/", CALLBACK_URL_NAME))
            with contextlib.suppress(NoReverseMatch):
                lanes.append((reverse(SANDBOX_API_URL_NAME), None))
            self._lanes = tuple(lanes)
        return self._lanes

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        for prefix, name in self.lanes:
            if path.startswith(prefix):
                try:
                    match = resolve(path)
                except Resolver404:
                    break
                if name is None or match.view_name == name:
                    request.resolver_match = match
                    return match.func(request, *match.args, **match.kwargs)
                break
        return self.get_response(request)
