"""SQLite writers queue on `<database>-writers` before SQLite's own lock
(portal/backends/sqlite3/base.py): held from BEGIN to COMMIT or ROLLBACK, taken by a waiter as
soon as it is let go, and never waited on for longer than the database's timeout."""

from __future__ import annotations

import fcntl
import os
import threading
import time

import pytest
from django.db import connection, transaction

from messaging.models import CarrierEvent
from portal.backends.sqlite3.base import DatabaseWrapper, writers_lock_path

pytestmark = [
    pytest.mark.skipif(
        not connection.settings_dict["ENGINE"].endswith("sqlite3"), reason="SQLite only"
    ),
    pytest.mark.django_db(transaction=True),
]


def _lock_is_free() -> bool:
    fd = os.open(writers_lock_path(connection.settings_dict["NAME"]), os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True
    finally:
        os.close(fd)


class _Holder:
    """The lock taken by someone else (another process would look the same to the kernel)."""

    def __enter__(self):
        self.fd = os.open(writers_lock_path(connection.settings_dict["NAME"]), os.O_RDWR)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)


def _event(body: str) -> CarrierEvent:
    return CarrierEvent.objects.create(body=body, outcome="kept")


def test_a_transaction_holds_the_writers_lock_until_it_commits():
    assert _lock_is_free()
    with transaction.atomic():
        _event("inside")
        assert not _lock_is_free()
    assert _lock_is_free()
    assert CarrierEvent.objects.filter(body="inside").exists()


def test_a_transaction_that_rolls_back_lets_the_lock_go_and_writes_nothing():
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        _event("rolled back")
        raise ZeroDivisionError
    assert _lock_is_free()
    assert not CarrierEvent.objects.filter(body="rolled back").exists()


def test_a_writer_waits_for_the_lock_and_writes_as_soon_as_it_is_let_go():
    _lock_is_free()  # creates the file
    written_at = []

    def write():
        with transaction.atomic():
            _event("waited")
        written_at.append(time.monotonic())
        connection.close()

    with _Holder():
        writer = threading.Thread(target=write)
        writer.start()
        time.sleep(0.3)
        assert written_at == []
        assert not CarrierEvent.objects.filter(body="waited").exists()
        let_go_at = time.monotonic()
    writer.join(5)
    assert CarrierEvent.objects.filter(body="waited").count() == 1
    # Looked at every 2 ms at most: well within a second even on a loaded machine, where the
    # timeout (20 s) would be the other way out.
    assert written_at[0] - let_go_at < 1.0


def test_a_lock_held_past_the_timeout_leaves_the_writer_to_sqlites_own_wait():
    _lock_is_free()
    settings = {**connection.settings_dict, "OPTIONS": {**connection.settings_dict["OPTIONS"]}}
    settings["OPTIONS"]["timeout"] = 0.3
    other = DatabaseWrapper(settings, alias="writers-timeout")
    with _Holder():
        started = time.monotonic()
        other.set_autocommit(False, force_begin_transaction_with_broken_autocommit=True)
        waited = time.monotonic() - started
        with other.cursor() as cursor:
            cursor.execute(
                "INSERT INTO messaging_callbackevent (received_at, body, message_sid, status, "
                "outcome, rejected, truncated) "
                "VALUES (CURRENT_TIMESTAMP, 'after timeout', '', '', 'kept', 0, 0)"
            )
        other.commit()
        other.set_autocommit(True)
    other.close()
    assert 0.3 <= waited < 2
    assert CarrierEvent.objects.filter(body="after timeout").count() == 1
