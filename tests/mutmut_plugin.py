"""A pytest plugin for `make mutants` only (pyproject's [tool.mutmut] loads it with `-p`).

mutmut runs each mutant's tests in a process forked from one that has already loaded the
settings, so every child would inherit the parent's test database name (it names the process
that read the settings) and two children side by side would create, use and drop one database:
a mutant could count as killed because the other child dropped its tables. Each child renames
its test database after itself before pytest-django creates it.

Creating a test database runs every migration (about 3 s here), far longer than most mutants'
tests. On SQLite a child therefore starts from a copy of one migrated template, made once by
`manage.py migrate` (under a lock, by whichever child comes first), and pytest-django keeps it
(`--reuse-db`) instead of migrating again; the child removes its copy when it ends.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

_child_db: Path | None = None


def _in_mutant_child() -> bool:
    # mutmut names the mutant under test here; "stats", "fail" and "" are its own runs.
    return os.environ.get("MUTANT_UNDER_TEST", "") not in ("", "stats", "fail", "mutant_generation")


def _template(base_dir: Path) -> Path:
    template = base_dir / ".test-db-mutmut-template.sqlite3"
    with open(base_dir / ".test-db-mutmut-template.sqlite3.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not template.exists():
            building = base_dir / ".test-db-mutmut-building.sqlite3"
            building.unlink(missing_ok=True)
            subprocess.run(
                [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
                cwd=base_dir,
                # The migrations run the unmutated code.
                env={
                    **os.environ,
                    "DATABASE_URL": f"sqlite:///{building}",
                    "MUTANT_UNDER_TEST": "",
                },
                check=True,
            )
            building.rename(template)
    return template


def pytest_sessionstart(session) -> None:
    global _child_db
    from django.conf import settings

    database = settings.DATABASES["default"]
    test = database.setdefault("TEST", {})
    name = test.get("NAME")
    if not name:
        return
    # `.test-db-<pid>.sqlite3` (SQLite) or `test_<name>_<pid>` (PostgreSQL), as settings.py
    # writes them; any other name is left alone.
    test["NAME"] = re.sub(r"(?<=[-_])\d+(?=(\.sqlite3)?$)", str(os.getpid()), name)
    if _in_mutant_child() and database["ENGINE"].endswith("sqlite3"):
        _child_db = Path(test["NAME"])
        shutil.copyfile(_template(Path(settings.BASE_DIR)), _child_db)
        session.config.option.reuse_db = True


def pytest_sessionfinish(session) -> None:
    if _child_db is not None:
        for suffix in ("", "-wal", "-shm", "-writers"):
            Path(f"{_child_db}{suffix}").unlink(missing_ok=True)
