"""Django's SQLite backend, with writers queued on a lock file instead of SQLite's busy handler.

SQLite has one write lock for every process. A writer that finds it taken sleeps in SQLite's busy
handler, in growing steps of up to 100 ms, and looks again only when it wakes: under a burst of
webhooks, a few unlucky requests sleep through many free moments while newer ones take the lock
(bench/RESULTS.md, runs V and Y: the webhook's p99 was 4-5x the bare view's, its median equal).

Here a transaction first takes an exclusive `flock` on `<database>-writers`, looking again every
millisecond or two, and only then runs `BEGIN IMMEDIATE`, which then finds SQLite's lock free. The
lock file is shared by every process on the machine (SQLite needs one machine anyway). Waiting is
bounded by the database's `timeout`; after that the transaction goes on to SQLite's own handler,
exactly as without this backend. Reads take no lock (WAL lets them run beside the writer).
"""

from __future__ import annotations

import fcntl
import itertools
import os
import time
from pathlib import Path

from django.db.backends.sqlite3 import base, creation

# Seconds between looks at a taken lock: short, so a waiter takes it soon after it is let go.
_WAITS = (0.0002, 0.0005, 0.001, 0.002)


def writers_lock_path(database_name: str) -> Path:
    return Path(f"{database_name}-writers")


class DatabaseCreation(creation.DatabaseCreation):
    def _destroy_test_db(self, test_database_name, verbosity):
        super()._destroy_test_db(test_database_name, verbosity)
        if test_database_name and not self.is_in_memory_db(test_database_name):
            writers_lock_path(test_database_name).unlink(missing_ok=True)


class DatabaseWrapper(base.DatabaseWrapper):
    creation_class = DatabaseCreation

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._writers_fd: int | None = None
        self._writers_held = False

    def _start_transaction_under_autocommit(self):
        if self.transaction_mode in ("IMMEDIATE", "EXCLUSIVE") and not self.is_in_memory_db():
            self._take_writers_lock()
        try:
            super()._start_transaction_under_autocommit()
        except BaseException:
            self._let_go_writers_lock()
            raise

    def _commit(self):
        try:
            return super()._commit()
        finally:
            self._let_go_writers_lock()

    def _rollback(self):
        try:
            return super()._rollback()
        finally:
            self._let_go_writers_lock()

    def _close(self):
        try:
            return super()._close()
        finally:
            self._let_go_writers_lock()
            if self._writers_fd is not None:
                os.close(self._writers_fd)
                self._writers_fd = None

    def _take_writers_lock(self) -> None:
        if self._writers_held:
            return
        if self._writers_fd is None:
            path = writers_lock_path(self.settings_dict["NAME"])
            self._writers_fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + float(self.settings_dict["OPTIONS"].get("timeout", 5))
        for attempt in itertools.count():
            try:
                fcntl.flock(self._writers_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return  # SQLite's busy handler takes over, as without this backend
                time.sleep(_WAITS[min(attempt, len(_WAITS) - 1)])
            else:
                self._writers_held = True
                return

    def _let_go_writers_lock(self) -> None:
        if self._writers_held:
            self._writers_held = False
            fcntl.flock(self._writers_fd, fcntl.LOCK_UN)
