"""Prepared statements for a hot path, and for nothing else.

The webhook runs the same handful of statements for every callback. Prepared, PostgreSQL parses
and plans each once per connection instead of on every call: that halved its CPU per callback
(bench/RESULTS.md, run AG). Prepared everywhere, after five uses as psycopg does by default, the
inbox's "nothing new" polls went from 1.7 to 2.5 × a bare view: PostgreSQL then runs a generic
plan, made without the poll's cursor, which scans every conversation instead of probing the
`updated_at` index. So connections prepare nothing (Django's default), and a block of code whose
statements are all lookups and writes by key asks for its own to be prepared.

Preparing needs the parameters bound at the server (`DATABASE_SERVER_SIDE_BINDING`, on by
default); with client-side binding psycopg prepares nothing, and this changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import DEFAULT_DB_ALIAS, connections


@contextmanager
def statements_prepared() -> Iterator[None]:
    """Every statement run inside is prepared on its first use on this connection, and run from
    then on as prepared (psycopg keeps the 100 most recently used)."""
    # The wrapper itself, read once: every read through the `connection` proxy is a thread-local
    # lookup, and this runs for every callback.
    db = connections[DEFAULT_DB_ALIAS]
    if db.vendor != "postgresql" or not db.features.uses_server_side_binding:
        yield
        return
    db.ensure_connection()
    driver = db.connection
    threshold = driver.prepare_threshold
    driver.prepare_threshold = 0
    try:
        yield
    finally:
        driver.prepare_threshold = threshold
