"""Faults the sandbox carrier injects on purpose, so the portal's send path meets what a real
carrier does on a bad day (issue 6). Each request in scope draws at most one:

- `rate_limit`: 429 with `Retry-After: retry_after_seconds`; `rate_limit_no_retry_after`: 429
  without it. Nothing is created.
- `error_before`: 500 before the request is processed. Nothing is created.
- `timeout_after`: the request is processed (the message exists and moves on, callbacks and
  all), then the answer waits `timeout_seconds`, longer than the client's read timeout.
- `drop`: the TCP connection is cut. A share `drop_after_processing` of drops (half by default)
  come after processing: the message exists, and the answer declares its full Content-Length but
  is cut halfway, so the client reads an incomplete body. The other drops come before processing:
  the request arrives in full, nothing is created, and no answer comes back at all.
- `latency_seconds`: added before every request in scope.

Scope (`apply_to`): "send", only `POST /sms/messages` (the default), or "all" Core API requests.
The shares are tried in that order against one draw of `random.random()`. With `seed` set, the
draws come from a generator seeded with it (again at every change of the configuration), so a test
that sends one request at a time meets the same faults on every run.

The configuration is one database row (SandboxFaults), so every web process and worker sees the
same; without it, settings.SANDBOX_FAULTS (a dict of the same names) gives the defaults.
`GET | PATCH | DELETE /sandbox/control` reads, changes and resets it (sandbox/control_views.py).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import random
import socket
import threading
import time
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils import timezone

from sandbox.api import error_response, validation_error
from sandbox.models import SandboxFaults

logger = logging.getLogger(__name__)

FAULT_SETTINGS = [
    field.name for field in SandboxFaults._meta.fields if field.name not in ("id", "changed_at")
]
SEND_ROUTE = "sms_messages"


# --- configuration -------------------------------------------------------------------------------


def faults_current() -> SandboxFaults:
    """The faults in force: the stored row, else the defaults from settings (not saved)."""
    stored = SandboxFaults.objects.filter(pk=SandboxFaults.ROW).first()
    return stored or SandboxFaults(pk=SandboxFaults.ROW, **getattr(settings, "SANDBOX_FAULTS", {}))


@transaction.atomic
def faults_update(changes: dict) -> SandboxFaults:
    """Apply `changes` (names as in FAULT_SETTINGS) to the faults in force and store them.
    Raises a 422 ApiError naming every bad setting; nothing is stored then."""
    unknown = sorted(set(changes) - set(FAULT_SETTINGS))
    if unknown:
        raise validation_error([(name, "is not a fault setting") for name in unknown])
    faults = (
        SandboxFaults.objects.select_for_update().filter(pk=SandboxFaults.ROW).first()
        or faults_current()
    )
    for name, value in changes.items():
        setattr(faults, name, value)
    try:
        faults.full_clean()
    except ValidationError as err:
        raise validation_error(
            [
                (None if field == NON_FIELD_ERRORS else field, text)
                for field, texts in err.message_dict.items()
                for text in texts
            ]
        ) from None
    faults.changed_at = timezone.now()
    faults.save()
    return faults


def faults_reset() -> SandboxFaults:
    """Back to the defaults from settings."""
    SandboxFaults.objects.filter(pk=SandboxFaults.ROW).delete()
    return faults_current()


def faults_json(faults: SandboxFaults) -> dict:
    data = {name: getattr(faults, name) for name in FAULT_SETTINGS}
    data["changed_at"] = faults.changed_at.isoformat() if faults.changed_at else None
    return data


def faults_summary(faults: SandboxFaults) -> str:
    """One line for people: which faults are on, e.g. "429 10 %, timeout after 10 % (25 s)"."""
    labels = {
        "rate_limit": f"429 with Retry-After: {faults.retry_after_seconds}",
        "rate_limit_no_retry_after": "429 without Retry-After",
        "error_before": "500 before processing",
        "timeout_after": f"timeout after processing ({faults.timeout_seconds:g} s)",
        "drop": f"connection drop ({faults.drop_after_processing:.0%} after processing)",
    }
    parts = [
        f"{labels[name]}: {getattr(faults, name):.0%}"
        for name in SandboxFaults.SHARES
        if getattr(faults, name)
    ]
    if faults.latency_seconds:
        parts.append(f"latency {faults.latency_seconds:g} s")
    if not parts:
        return "none"
    return f"{'; '.join(parts)} — on {faults.get_apply_to_display()}"


# --- drawing -------------------------------------------------------------------------------------


class _Draws:
    """`random.random()`, or a generator seeded from the configuration's `seed`, restarted
    whenever the configuration changes. Shared by the threads of one process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple | None = None
        self._random = random.Random()

    def roll(self, faults: SandboxFaults) -> float:
        if faults.seed is None:
            return random.random()
        with self._lock:
            key = (faults.seed, faults.changed_at)
            if key != self._key:
                self._key, self._random = key, random.Random(faults.seed)
            return self._random.random()


_draws = _Draws()


def fault_draw(faults: SandboxFaults) -> str | None:
    """Which fault (a name from SandboxFaults.SHARES) hits this request, if any."""
    roll = _draws.roll(faults)
    edge = 0.0
    for name in SandboxFaults.SHARES:
        edge += getattr(faults, name)
        if roll < edge:
            return name
    return None


def _in_scope(faults: SandboxFaults, request: HttpRequest) -> bool:
    if faults.apply_to == SandboxFaults.Scope.ALL:
        return True
    match = request.resolver_match
    return request.method == "POST" and match is not None and match.url_name == SEND_ROUTE


# --- injecting -----------------------------------------------------------------------------------


def faulty(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Put the configured faults in front of a Core API view, where a carrier's load balancer
    and network would be: before its authentication, around its whole answer."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        return with_faults(request, lambda: view(request, *args, **kwargs))

    return wrapper


def with_faults(request: HttpRequest, answer: Callable[[], HttpResponse]) -> HttpResponse:
    # When the request reached the carrier, before the latency below (SandboxMessage.received_at).
    request.sandbox_received_at = timezone.now()
    faults = faults_current()
    if not _in_scope(faults, request):
        return answer()
    if faults.latency_seconds:
        # The wait holds no database connection (it is opened again after it): a hundred sends
        # waiting on a slow carrier must not take a hundred of the server's connections.
        if not connection.in_atomic_block:
            connection.close()
        time.sleep(faults.latency_seconds)
    fault = fault_draw(faults)
    if fault is None:
        return answer()
    after = fault != "drop" or _draws.roll(faults) < faults.drop_after_processing
    logger.info(
        "sandbox fault: %s%s on %s %s",
        fault,
        "" if fault != "drop" else (" after processing" if after else " before processing"),
        request.method,
        request.path,
    )
    if fault == "rate_limit":
        response = _refusal(429, "Too Many Requests", "rate limit exceeded; retry later")
        response["Retry-After"] = str(faults.retry_after_seconds)
        return response
    if fault == "rate_limit_no_retry_after":
        return _refusal(429, "Too Many Requests", "rate limit exceeded")
    if fault == "error_before":
        return _refusal(500, "Internal Server Error", "the request was not processed")
    if fault == "drop" and not after:
        request.body  # noqa: B018  (the request arrives in full; then the line goes dead)
        if _cut_connection(request):
            return HttpResponse(status=502)  # never reaches the client
        # A server whose socket we cannot reach: answer as a proxy would to a dropped upstream.
        return _refusal(502, "Bad Gateway", "the connection to the carrier dropped")
    response = answer()
    if fault == "timeout_after":
        time.sleep(faults.timeout_seconds)
        return response
    return _cut_midway(request, response)


def _refusal(status: int, message: str, detail: str) -> HttpResponse:
    return error_response(status, message, [(None, f"{detail} (sandbox fault injection)")])


def _cut_midway(request: HttpRequest, response: HttpResponse) -> StreamingHttpResponse:
    """The full answer's status and headers, Content-Length included, then half of its body and
    a dead connection: the client sees an incomplete read."""
    body = response.content

    def first_half_then_cut():
        yield body[: len(body) // 2]
        _cut_connection(request)

    cut = StreamingHttpResponse(
        first_half_then_cut(), status=response.status_code, content_type=response["Content-Type"]
    )
    cut["Content-Length"] = str(len(body))
    return cut


def _cut_connection(request: HttpRequest) -> bool:
    """Shut the client's TCP connection down under the server's feet, as a network drop would.
    False when this server's socket cannot be found.

    WSGI gives an application no handle on the connection. gunicorn hands its socket over anyway
    (`gunicorn.socket`); Django's runserver and test server do not, but the request stream they
    pass (`wsgi.input`, Django's LimitedStream) reads straight from the socket's file.
    """
    sock = request.environ.get("gunicorn.socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        return True
    stream = request.environ.get("wsgi.input")
    reader = getattr(getattr(stream, "_read", None), "__self__", None)
    try:
        descriptor = os.dup(reader.fileno())
    except (AttributeError, OSError, ValueError):
        return False
    try:
        # A duplicate descriptor: shutting it down cuts the connection; closing it leaves the
        # server's own descriptor for the server to close.
        duplicate = socket.socket(fileno=descriptor)
    except OSError:
        os.close(descriptor)
        return False
    with duplicate, contextlib.suppress(OSError):
        duplicate.shutdown(socket.SHUT_RDWR)
    return True
