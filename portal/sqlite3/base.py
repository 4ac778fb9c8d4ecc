"""Django's SQLite backend, with the threads of one process queueing for the write lock in turn.

SQLite has one write lock per database file. A writer that finds it taken waits in SQLite's busy
handler, which sleeps in growing steps (up to 100 ms) and checks again: with a web process's
threads all writing (the webhook under a burst), a write that found the lock taken often slept
on long after it was free, and the webhook's slowest callbacks took several times the bare
view's (bench/RESULTS.md, issue 18). Here a thread first takes a lock of its process's own, held
from BEGIN to COMMIT or ROLLBACK, so the threads of one process wait their turn on it and wake
the moment it is free; only one of them at a time meets another process in the busy handler.
A transaction that cannot get the process lock within the busy timeout goes on to SQLite's own
wait, as it would without it.
"""

from __future__ import annotations

import threading

from django.db.backends.sqlite3 import base

_write_lock = threading.Lock()


class DatabaseWrapper(base.DatabaseWrapper):
    _holds_write_lock = False

    def _start_transaction_under_autocommit(self):
        timeout = self.settings_dict.get("OPTIONS", {}).get("timeout", 5)
        self._holds_write_lock = _write_lock.acquire(timeout=timeout)
        try:
            super()._start_transaction_under_autocommit()
        except BaseException:
            self._release_write_lock()
            raise

    def _commit(self):
        try:
            return super()._commit()
        finally:
            self._release_write_lock()

    def _rollback(self):
        try:
            return super()._rollback()
        finally:
            self._release_write_lock()

    def _close(self):
        try:
            return super()._close()
        finally:
            self._release_write_lock()

    def _release_write_lock(self):
        if self._holds_write_lock:
            self._holds_write_lock = False
            _write_lock.release()
