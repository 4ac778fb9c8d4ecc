"""DATABASE_POOL_MAX: the threads of one process share a few PostgreSQL connections instead of
opening one each (a threaded server, or the sandbox's senders waiting out its latency)."""

from __future__ import annotations

import pytest
from django.db import connection

from tests.worker_processes import shell_answer

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="a psycopg pool is PostgreSQL's: SQLite opens a file, not a server connection",
    ),
    pytest.mark.django_db(transaction=True),
]

# Twelve threads, each five times: take a connection, ask which server process answers, and give
# it back as Django does at the end of a request. Prints how many server processes answered.
THREADS = """
import threading
from django.db import connection
seen, lock = set(), threading.Lock()
def work():
    for _ in range(5):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
        with lock:
            seen.add(pid)
        connection.close()
threads = [threading.Thread(target=work) for _ in range(12)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(len(seen))
"""


def _server_processes(**env: str) -> int:
    return int(shell_answer(THREADS, **env))


def test_with_a_pool_twelve_threads_share_at_most_its_size_in_connections():
    assert 1 <= _server_processes(DATABASE_POOL_MAX="3") <= 3


def test_without_a_pool_each_request_opens_a_connection_of_its_own():
    assert _server_processes(CONN_MAX_AGE="0") > 12
