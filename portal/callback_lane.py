"""The carrier's callbacks skip the middleware that serves people.

A callback is a machine's POST of JSON: it has no session, signs no one in, is exempt from CSRF,
sets no message, needs no CSP or frame headers (it answers JSON), is no htmx request and no login
attempt for django-axes. Walking it through those twelve middleware was about a fifth of the
webhook's CPU beyond a bare view's, measured in process (bench/RESULTS.md, run AC).

This middleware sits after `RequestIdMiddleware` and `SecurityMiddleware`, so a callback still
gets its request id, its log line and the HTTPS redirect, and then calls the view of the URL named
`CALLBACK_URL_NAME` directly. Every other request goes on down the chain; a path under the
prefix that is not such a URL (a wrong shape, a missing slash) does too, and is answered as
before.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.urls import NoReverseMatch, Resolver404, resolve, reverse

# The URL whose view takes the lane; its path up to the secret is the prefix a page's request is
# tested against (one `startswith`).
CALLBACK_URL_NAME = "webhook"


class CallbackLaneMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self._prefix: str | None = None

    @property
    def prefix(self) -> str:
        """The callback URL's path up to its secret, read on first use (the URLconf may import what
        imports this module); "" when the URLconf has none (the benchmarks' bare views): the
        lane stays shut."""
        if self._prefix is None:
            try:
                path = reverse(CALLBACK_URL_NAME, kwargs={"secret": "-"})
            except NoReverseMatch:
                path = ""
            self._prefix = path.rsplit("/", 2)[0] + "/" if path else ""
        return self._prefix

    def __call__(self, request: HttpRequest) -> HttpResponse:
        prefix = self.prefix
        if prefix and request.path_info.startswith(prefix):
            try:
                match = resolve(request.path_info)
            except Resolver404:
                match = None
            if match is not None and match.view_name == CALLBACK_URL_NAME:
                request.resolver_match = match
                return match.func(request, *match.args, **match.kwargs)
        return self.get_response(request)
