"""A real HTTP receiver for the callbacks the sandbox fires, so tests see exactly what went over
the wire. Use it with `pytest_plugins = ["tests.callback_sink"]` and the `callback_sink` fixture.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class CallbackSink:
    """Every POST the sink received, in arrival order, as (path, JSON body)."""

    url: str
    received: list[tuple[str, object]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

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
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"OK")

        def log_message(self, format: str, *args: object) -> None:
            # Keep test output to what failed.
            pass

    return Handler


@pytest.fixture
def callback_sink() -> Iterator[CallbackSink]:
    """A ThreadingHTTPServer on 127.0.0.1 (a free port) that records every POSTed JSON body and
    its path and answers 200; `callback_sink.url` is its base URL, without a trailing slash."""
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
