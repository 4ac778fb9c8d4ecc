"""What every sandbox Core API route shares: the carrier's error body, Bearer auth, JSON bodies.

Error bodies copy the carrier's shape (CARRIERX.md §8):
`{"message": "...", "errors": [{"field": ..., "message": ..., "reference_sid": null}]}`.
Bad input always gets a 4xx with that body, never a 500.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.utils.crypto import constant_time_compare
from django.views.decorators.csrf import csrf_exempt

from sandbox.models import SandboxPartner


class ApiError(Exception):
    """A refusal the sandbox answers in the carrier's error shape.

    `errors` is a list of (field, message) pairs; field is None when no one attribute is at fault.
    """

    def __init__(
        self, status: int, message: str, errors: list[tuple[str | None, str]] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors or []

    def response(self) -> JsonResponse:
        return error_response(self.status, self.message, self.errors)


def validation_error(errors: list[tuple[str | None, str]]) -> ApiError:
    return ApiError(422, "object validation error", errors)


def not_found() -> ApiError:
    return ApiError(404, "no item error", [(None, "cannot find item by sid")])


def error_response(status: int, message: str, errors: list[tuple[str | None, str]]) -> JsonResponse:
    body = {
        "message": message,
        "errors": [
            {"field": field, "message": text, "reference_sid": None} for field, text in errors
        ],
    }
    return JsonResponse(body, status=status)


@csrf_exempt
def unknown_route(request: HttpRequest) -> JsonResponse:
    """Any other path under the API: the carrier's JSON error body with 404, never Django's HTML
    page (which, in debug, lists every URL pattern of the portal)."""
    return error_response(
        404, "Not Found", [(None, f"no such route: {request.method} {request.path}")]
    )


def json_response(data: dict) -> JsonResponse:
    # The carrier writes keys in alphabetical order; so do we, to make diffs against its docs easy.
    return JsonResponse(data, json_dumps_params={"sort_keys": True})


def api_partner() -> SandboxPartner | None:
    """The account the sandbox token belongs to. The sandbox has one token, so one account: the
    first partner created (the seeded one)."""
    return SandboxPartner.objects.order_by("pk").first()


# PostgreSQL cannot store NUL in text, so refuse it up front rather than fail in the database.
NUL_REFUSED = ApiError(400, "bad request", [(None, "NUL characters (\\u0000) are not allowed")])


def _has_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(key) or _has_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    return False


def _bearer_token(request: HttpRequest) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def has_sandbox_token(request: HttpRequest) -> bool:
    token = _bearer_token(request)
    return bool(token) and constant_time_compare(token, settings.CARRIERX_TOKEN)


def _csrf_refusal(request: HttpRequest) -> HttpResponse | None:
    """CsrfViewMiddleware's verdict on a request to a view it was told to skip (None: fine)."""
    return CsrfViewMiddleware(lambda request: HttpResponse()).process_view(request, None, (), {})


def staff_or_token(*, page: bool = False) -> Callable:
    """Guard a sandbox tool (handset, simulator, fault control): it drives the carrier, so only
    staff signed in to the portal, or a script holding the sandbox's token, may use it.

    A page sends anyone else to the login form (a signed-in non-staff user gets 403); a JSON
    endpoint answers 401 in the carrier's error shape. Token callers skip CSRF, as API clients do;
    signed-in staff get the CSRF check the view's @csrf_exempt would otherwise switch off.
    """

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if has_sandbox_token(request):
                return view(request, *args, **kwargs)
            user = getattr(request, "user", None)
            if user is not None and user.is_authenticated and user.is_staff:
                refusal = _csrf_refusal(request)
                return refusal or view(request, *args, **kwargs)
            if page:
                if user is not None and user.is_authenticated:
                    raise PermissionDenied("The sandbox's tools are for staff.")
                return redirect_to_login(request.get_full_path())
            return error_response(
                401,
                "Bad credentials",
                [(None, "sign in as staff, or send Authorization: Bearer <the sandbox's token>")],
            )

        return wrapper

    return decorator


def carrier_api(*methods: str) -> Callable:
    """Guard a Core API view: allowed methods, Bearer token, the caller's partner in
    `request.partner`, and ApiError turned into the carrier's error body.

    Use under `@csrf_exempt`: API clients carry a token, not a session.
    """

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not has_sandbox_token(request):
                return error_response(
                    401,
                    "Bad credentials",
                    [(None, "send Authorization: Bearer <the sandbox's CARRIERX_TOKEN>")],
                )
            if request.method not in methods:
                response = error_response(
                    405, "method not allowed", [(None, f"use {', '.join(methods)}")]
                )
                response["Allow"] = ", ".join(methods)
                return response
            if _has_nul(request.path) or _has_nul(dict(request.GET.lists())):
                return NUL_REFUSED.response()
            request.partner = api_partner()
            if request.partner is None:
                return error_response(
                    401,
                    "Bad credentials",
                    [(None, "the sandbox has no partner yet: run manage.py sandbox_seed")],
                )
            try:
                return view(request, *args, **kwargs)
            except ApiError as err:
                return err.response()

        return wrapper

    return decorator


# Deeper than any object the carrier defines; also keeps every walk over a body shallow.
MAX_BODY_DEPTH = 32


def _finite(text: str) -> float:
    # `1e400` parses as infinity, which no JSON column can store; NaN and Infinity are not JSON.
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is not a finite number")
    return value


def _not_json(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def unstorable(body: object) -> ApiError | None:
    """Why a parsed body cannot be stored as text: NUL, a lone surrogate, or too deep."""
    pending = [(body, 1)]
    while pending:
        value, depth = pending.pop()
        if depth > MAX_BODY_DEPTH:
            return ApiError(
                400, "bad request", [(None, f"nested deeper than {MAX_BODY_DEPTH} levels")]
            )
        if isinstance(value, str):
            if "\x00" in value:
                return NUL_REFUSED
            if not value.isascii():
                try:
                    value.encode("utf-8")
                except UnicodeEncodeError:
                    return ApiError(
                        400,
                        "bad request",
                        [(None, "lone surrogates (\\ud800-\\udfff) are not text")],
                    )
        elif isinstance(value, dict):
            pending.extend((item, depth + 1) for pair in value.items() for item in pair)
        elif isinstance(value, list):
            pending.extend((item, depth + 1) for item in value)
    return None


def json_object(request: HttpRequest) -> dict:
    """The request body as a JSON object, or the carrier's 415/413/400 refusal."""
    if request.content_type != "application/json":
        raise ApiError(
            415, "Unsupported media type", [(None, "send Content-Type: application/json")]
        )
    try:
        raw = request.body
    except RequestDataTooBig:
        raise ApiError(
            413,
            "request too large",
            [(None, f"send at most {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes")],
        ) from None
    try:
        body = json.loads(raw, parse_float=_finite, parse_constant=_not_json)
    except (ValueError, RecursionError):
        # RecursionError: JSON nested thousands deep; the decoder gives up before we could.
        raise ApiError(
            400, "No JSON object could be decoded", [(None, "the body is not valid JSON")]
        ) from None
    if not isinstance(body, dict):
        raise ApiError(400, "No JSON object could be decoded", [(None, "send a JSON object")])
    if problem := unstorable(body):
        raise problem
    return body
