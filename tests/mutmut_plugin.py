"""A pytest plugin for `make mutants` only (pyproject's [tool.mutmut] loads it with `-p`).

mutmut runs each mutant's tests in a process forked from one that has already loaded the
settings, so every child would inherit the parent's test database name (it names the process
that read the settings) and two children side by side would create, use and drop one database:
a mutant could count as killed because the other child dropped its tables. Each child renames
its test database after itself before pytest-django creates it.
"""

from __future__ import annotations

import os
import re


def pytest_sessionstart(session) -> None:
    from django.conf import settings

    test = settings.DATABASES["default"].setdefault("TEST", {})
    name = test.get("NAME")
    if name:
        # `.test-db-<pid>.sqlite3` (SQLite) or `test_<name>_<pid>` (PostgreSQL), as settings.py
        # writes them; any other name is left alone.
        test["NAME"] = re.sub(r"(?<=[-_])\d+(?=(\.sqlite3)?$)", str(os.getpid()), name)
