"""The callback receiver under a burst: the carrier may deliver the same callback many times at
once, and every copy races to create the message's one row. Needs PostgreSQL's row locks; SQLite
serialises writers and would prove nothing."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.db import connection

from messaging.models import CarrierEvent, Message
from tests.conftest import load_fixture

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]

THREADS = 50


@pytest.fixture(autouse=True)
def _on_postgresql_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: run with DATABASE_URL=postgres://…")


@pytest.fixture
def burst_server(live_server):
    """The live server, able to queue a whole burst of connections.

    Django's development server listens with a backlog of 10: a burst of 50 overflows it and
    the kernel resets the connections it cannot queue, before Django sees them. Production
    servers listen with a far deeper backlog (gunicorn: 2048), so widen it here too; calling
    listen() again on a listening socket only changes its backlog.
    """
    live_server.thread.httpd.socket.listen(THREADS * 2)
    return live_server


def post_at_once(url: str, bodies: list[str]) -> list[int]:
    """POST every body from its own thread, all released together; the status codes, in order."""
    barrier = threading.Barrier(len(bodies))

    def send(body: str) -> int:
        barrier.wait(timeout=30)
        response = requests.post(
            url, data=body, headers={"Content-Type": "application/json"}, timeout=60
        )
        return response.status_code

    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        return list(pool.map(send, bodies))


def with_status(status: str) -> str:
    payload = load_fixture("status_delivered")
    payload["status"] = status
    return json.dumps(payload)


def test_fifty_copies_of_one_callback_at_once_make_one_row_and_fifty_events(
    burst_server, webhook_url
):
    answers = post_at_once(burst_server.url + webhook_url, [with_status("delivered")] * THREADS)

    assert answers == [200] * THREADS
    sid = load_fixture("status_delivered")["message_sid"]
    message = Message.objects.get(message_sid=sid)
    assert Message.objects.count() == 1
    assert message.status == "delivered"
    events = CarrierEvent.objects.filter(message_sid=sid)
    assert events.count() == THREADS
    assert set(events.values_list("message", flat=True)) == {message.pk}
    assert not events.filter(outcome__startswith="error")
    assert events.filter(outcome__startswith="new outbound message").count() == 1


def test_sent_and_delivered_racing_for_one_message_end_delivered_in_one_row(
    burst_server, webhook_url
):
    bodies = [with_status("sent" if i % 2 else "delivered") for i in range(THREADS)]

    answers = post_at_once(burst_server.url + webhook_url, bodies)

    assert answers == [200] * THREADS
    message = Message.objects.get()
    assert message.status == "delivered"
    events = CarrierEvent.objects.filter(message_sid=message.message_sid)
    assert events.count() == THREADS
    assert not events.filter(outcome__startswith="error")
    assert events.filter(outcome__startswith="new outbound message").count() == 1
