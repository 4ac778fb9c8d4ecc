"""One id per request, on every log line it causes: from the click, to the worker's task, to the
carrier call, and back through the carrier's callback.

- `RequestIdMiddleware` takes a sane `X-Request-ID` from the proxy or makes one, answers it in the
  response header, and logs one line per request (method, path, status, time; never a body).
- A message remembers the request that created it (`Message.request_id`); a task about a message
  runs under that id (`messaging.tasks`), so the worker's lines and its carrier calls carry it,
  and the webhook names it when the carrier reports on that message.
- `RequestIdFilter` puts the id on every record; `JsonFormatter` writes one JSON object per line
  when LOG_FORMAT=json.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextvars import ContextVar

from django.http import HttpRequest, HttpResponse

logger = logging.getLogger("portal.requests")
task_logger = logging.getLogger("portal.tasks")

HEADER = "X-Request-ID"
# A proxy's id is kept only when it is short and plain: it is written into every log line.
SANE_ID = re.compile(r"[A-Za-z0-9._:-]{8,64}")

_request_id: ContextVar[str] = ContextVar("request_id", default="")


def current_request_id() -> str:
    return _request_id.get()


def new_request_id() -> str:
    return uuid.uuid4().hex


@contextlib.contextmanager
def request_id_as(value: str) -> Iterator[None]:
    """Run a block (a task, say) under `value`, or under a fresh id when it has none."""
    token = _request_id.set(value or new_request_id())
    try:
        yield
    finally:
        _request_id.reset(token)


def logged_task(request_id_for: Callable[..., str] | None = None):
    """A task body that runs under a request id (the one `request_id_for(*args)` names, else a
    new one) and logs one line when it ends: its name, what it did, how long it took."""

    def decorate(function):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            with request_id_as(request_id_for(*args) if request_id_for else ""):
                started = time.perf_counter()
                try:
                    outcome = function(*args, **kwargs)
                except Exception:
                    task_logger.exception("task %s failed", function.__name__)
                    raise
                elapsed = (time.perf_counter() - started) * 1000
                task_logger.info("task %s: %s (%.0f ms)", function.__name__, outcome, elapsed)
                return outcome

        return wrapper

    return decorate


class RequestIdMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        offered = request.headers.get(HEADER, "")
        request_id = offered if SANE_ID.fullmatch(offered) else new_request_id()
        request.request_id = request_id
        started = time.perf_counter()
        with request_id_as(request_id):
            response = self.get_response(request)
            response[HEADER] = request_id
            # The path only: query strings can hold what people typed (a number, a search).
            logger.info(
                "%s %s %s %.1f ms",
                request.method,
                request.path,
                response.status_code,
                (time.perf_counter() - started) * 1000,
            )
        return response


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get() or "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log shippers: time, level, logger, request id, message."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)

    converter = time.gmtime
