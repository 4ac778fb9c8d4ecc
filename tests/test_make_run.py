"""`make run` on a fresh copy of the checkout (no database, no .secret_key, no .sandbox_token), as
a newcomer runs it: it prints the sandbox's token, the URLs and an admin's password, each of which
works, reads the numbers from the sandbox, and stops with exit 0 on Ctrl-C. Every wait bounded;
never port 8000."""

from __future__ import annotations

import os
import pty
import re
import select
import shutil
import signal
import socket
import time
from pathlib import Path

import pytest
import requests
from django.conf import settings

BASE_DIR = Path(settings.BASE_DIR)
WAIT = 30.0
START = 120.0  # migrating a new database and seeding on a loaded small machine
FILES = ["manage.py", "Makefile", "requirements.txt", "requirements-dev.txt", "static", "templates"]


def code() -> list[str]:
    """What `make run` needs: the files above and every Python package but the tests."""
    packages = [
        path.name
        for path in BASE_DIR.iterdir()
        if (path / "__init__.py").exists() and path.name != "tests"
    ]
    return FILES + sorted(packages)


pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs GNU make")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fresh_copy(directory: Path) -> Path:
    """The checkout's code only; its virtualenv linked in, so nothing is installed."""
    ignore = shutil.ignore_patterns("__pycache__", ".secret_key*", ".sandbox_token*", "*.sqlite3*")
    for name in code():
        source = BASE_DIR / name
        if source.is_dir():
            shutil.copytree(source, directory / name, ignore=ignore)
        elif source.exists():
            shutil.copy(source, directory / name)
    (directory / ".venv").symlink_to(BASE_DIR / ".venv")
    return directory


def status(url: str, **kwargs) -> int | None:
    try:
        return requests.get(url, timeout=5, allow_redirects=False, **kwargs).status_code
    except requests.RequestException:
        return None


def sign_in(base: str, username: str, password: str) -> requests.Session:
    session = requests.Session()
    session.get(f"{base}/accounts/login/", timeout=10)
    response = session.post(
        f"{base}/accounts/login/",
        data={
            "username": username,
            "password": password,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        headers={"Referer": f"{base}/accounts/login/"},
        timeout=10,
        allow_redirects=False,
    )
    assert response.status_code == 302, response.text
    return session


class Terminal:
    """`make run` on a terminal of its own, as people run it; everything it printed so far."""

    def __init__(self, cwd: Path, argv: list[str], env: dict[str, str]) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child
            os.chdir(cwd)
            os.execvpe(argv[0], argv, env)
        self.seen = bytearray()
        self.status: int | None = None

    @property
    def output(self) -> str:
        """As read, without the colours a terminal gets."""
        return re.sub(r"\x1b\[[0-9;]*m", "", self.seen.decode(errors="replace"))

    def read(self, seconds: float) -> None:
        if select.select([self.fd], [], [], seconds)[0]:
            try:
                self.seen.extend(os.read(self.fd, 65536))
            except OSError:  # the terminal closed: make has exited
                time.sleep(seconds)

    def exited(self) -> bool:
        if self.status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(status)
        return self.status is not None

    def wait_for(self, condition, what: str, within: float):
        deadline = time.monotonic() + within
        while time.monotonic() < deadline and not self.exited():
            value = condition()
            if value:
                return value
            self.read(0.2)
        raise AssertionError(f"no {what} (make exited or time ran out):\n{self.output}")

    def close(self) -> None:
        if not self.exited():
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        os.close(self.fd)


def test_make_run_on_a_fresh_copy_prints_a_working_token_urls_and_admin_then_stops_on_ctrl_c(
    tmp_path,
):
    copy = tmp_path / "checkout"
    copy.mkdir()
    fresh_copy(copy)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
    }
    # `-o` keeps make from installing into the linked virtualenv.
    make = Terminal(copy, ["make", "-o", ".venv/.installed", "run", f"PORT={port}"], env)
    try:
        make.wait_for(lambda: status(f"{base}/accounts/login/") == 200, "portal", START)
        make.wait_for(lambda: "Task worker" in make.output, "task worker", WAIT)
        output = make.output

        token = re.search(r"^Sandbox token: (\S+)\r?$", output, re.MULTILINE).group(1)
        assert token == (copy / ".sandbox_token").read_text().strip()
        assert f"Portal on {base}/" in output
        assert f"Sandbox API {base}/sandbox/core/v2 (token {token})" in output
        assert f"Handset: {base}/sandbox/phone/" in output
        assert "8000" not in output
        username, password = re.search(
            r"^Admin user: (\S+)\s+password: (\S+)\r?$", output, re.MULTILINE
        ).groups()
        assert username == "admin"

        dids = f"{base}/sandbox/core/v2/phonenumber/dids"
        assert status(dids, headers={"Authorization": f"Bearer {token}"}) == 200
        assert status(dids, headers={"Authorization": "Bearer not-the-token"}) == 401
        admin = sign_in(base, username, password)
        assert admin.get(f"{base}/admin/", timeout=10, allow_redirects=False).status_code == 200
        # The first read of the numbers ran in the background: the sandbox's DIDs are listed.
        make.wait_for(
            lambda: "15162065575" in admin.get(f"{base}/numbers/", timeout=10).text,
            "numbers from the sandbox",
            WAIT,
        )

        os.write(make.fd, b"\x03")  # Ctrl-C
        deadline = time.monotonic() + WAIT
        while not make.exited() and time.monotonic() < deadline:
            make.read(0.2)
        make.read(0.2)
    finally:
        make.close()
    assert make.status == 0, make.output
    assert "Stopped the web server and the task worker." in make.output
    assert "make: ***" not in make.output
    assert status(f"{base}/accounts/login/") is None
