"""A real HTTP receiver for the callbacks the sandbox fires, so tests see exactly what went over
the wire. Use it with `pytest_plugins = ["tests.callback_sink"]` and the `callback_sink` fixture
(allow-listed in SANDBOX_CALLBACK_HOSTS, as an operator would list a callback app) or
`start_callback_sink` for more sinks, listed or not.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class CallbackSink:
    """Every POST the sink received, in arrival order, as (path, JSON body); `headers` holds each
    request's headers in the same order. It answers `answer_status` with `answer_headers`."""

    url: str
    received: list[tuple[str, object]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    answer_status: int = 200
    answer_headers: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def host_port(self) -> str:
        """`127.0.0.1:<port>`, as SANDBOX_CALLBACK_HOSTS lists it."""
        return self.url.removeprefix("http://")

    def bodies(self, path: str | None = None) -> list:
        with self.lock:
            return [body for got, body in self.received if path is None or got == path]

    def paths(self) -> list[str]:
        with self.lock:
            return [path for path, _ in self.received]


def _handler_for(sink: CallbackSink) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode(errors="replace")
            with sink.lock:
                sink.received.append((self.path, body))
                sink.headers.append(dict(self.headers.items()))
            self.send_response(sink.answer_status)
            for name, value in sink.answer_headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"OK")

        def log_message(self, format: str, *args: object) -> None:
            # Keep test output to what failed.
            pass

    return Handler


@contextmanager
def running_sink() -> Iterator[CallbackSink]:
    """A ThreadingHTTPServer on 127.0.0.1 (a free port) that records every POSTed JSON body and
    its path and headers; `sink.url` is its base URL, without a trailing slash."""
    sink = CallbackSink(url="")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(sink))
    sink.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield sink
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def allow_callbacks_to(settings) -> Callable[[str], None]:
    """`allow_callbacks_to("127.0.0.1:8123")` lets the sandbox call that host:port in this test,
    as an operator lists a callback app in SANDBOX_CALLBACK_HOSTS."""

    def allow(host_port: str) -> None:
        # A new list: the settings fixture puts the old one back after the test.
        settings.SANDBOX_CALLBACK_HOSTS = [*settings.SANDBOX_CALLBACK_HOSTS, host_port]

    return allow


@pytest.fixture
def start_callback_sink(allow_callbacks_to) -> Iterator[Callable[..., CallbackSink]]:
    """`start_callback_sink(allowed=True)` starts one more sink for this test; allowed, it is
    listed in SANDBOX_CALLBACK_HOSTS; else the sandbox must refuse to call it."""
    with ExitStack() as stack:

        def start(*, allowed: bool = True) -> CallbackSink:
            sink = stack.enter_context(running_sink())
            if allowed:
                allow_callbacks_to(sink.host_port)
            return sink

        yield start


@pytest.fixture
def callback_sink(start_callback_sink) -> CallbackSink:
    """A sink the sandbox may call (its host:port is in SANDBOX_CALLBACK_HOSTS) answering 200."""
    return start_callback_sink(allowed=True)
