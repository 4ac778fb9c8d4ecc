"""Real network faults for tests: a port nobody listens on, and a server that never answers."""

from __future__ import annotations

import socket
import threading

import pytest


def closed_port_url() -> str:
    """A localhost URL whose port refuses connections (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/core/v2"


@pytest.fixture
def silent_server():
    """A server that accepts connections and reads requests but never answers: a read timeout."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/core/v2"
    stop.set()
    thread.join(timeout=2)
    for conn in held:
        conn.close()
    server.close()
