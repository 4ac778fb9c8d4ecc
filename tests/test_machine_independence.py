"""The suite holds on any machine (issue 11, item 10): it reaches no port it did not open, and
neither a `.env` nor the developer's environment changes what it tests."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings as django_settings

from phone_numbers.models import Did
from phone_numbers.sync import numbers_sync
from portal.carrierx import CarrierXError
from tests.conftest import PROJECT_PACKAGES

BASE_DIR = Path(__file__).resolve().parent.parent


def refuses_connections(url: str) -> bool:
    parts = urlsplit(url)
    with socket.socket() as sock:
        sock.settimeout(5)
        return sock.connect_ex((parts.hostname, parts.port)) != 0


@pytest.mark.django_db
def test_a_bare_test_sees_a_carrier_that_refuses_connections_not_the_sandbox_default(settings):
    url = settings.CARRIERX_API_URL
    assert urlsplit(url).port != settings.PORT  # where a developer's `make run` would answer
    assert refuses_connections(url)


@pytest.mark.django_db
def test_a_sync_and_a_page_load_in_a_bare_test_bring_in_no_numbers_from_anywhere(
    settings, admin_client_
):
    # Stand-in for a developer's `make run`: a port that would answer, where no test looks.
    with socket.socket() as stand_in:
        stand_in.bind(("127.0.0.1", 0))
        stand_in.listen(8)
        stand_in.setblocking(False)
        with pytest.raises(CarrierXError):
            numbers_sync()
        page = admin_client_.get("/numbers/")
        assert page.status_code == 200
        with pytest.raises(BlockingIOError):
            stand_in.accept()  # nobody knocked
    assert not Did.objects.exists()


PROBE = """
import os

from django.conf import settings


def test_probe():
    assert "FROM_DOTENV" not in os.environ
    assert settings.SANDBOX_FAILURE_RATE == 0.1
    assert settings.SANDBOX_STEP_SECONDS == 1.0
    assert settings.CARRIERX_SANDBOX is True
    assert settings.DATABASES["default"]["NAME"].endswith("chosen-by-ci.sqlite3")
"""


def test_a_dotenv_and_the_developers_environment_do_not_reach_a_test_run(tmp_path):
    copy = tmp_path / "checkout"
    ignore = shutil.ignore_patterns("__pycache__", ".secret_key*", ".sandbox_token*", "*.sqlite3")
    for app in PROJECT_PACKAGES:
        shutil.copytree(BASE_DIR / app, copy / app, ignore=ignore)
    for name in ("manage.py", "pyproject.toml"):
        shutil.copy(BASE_DIR / name, copy)
    (copy / "tests").mkdir()
    (copy / "tests" / "test_probe.py").write_text(PROBE)
    (copy / ".env").write_text(
        "SANDBOX_FAILURE_RATE=1\nSANDBOX_STEP_SECONDS=7\nFROM_DOTENV=yes\nCARRIERX_SANDBOX=0\n"
    )
    environment = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        # What a developer's shell might hold; only DATABASE_URL may count.
        "DEBUG": "0",
        "CARRIERX_TOKEN": "a-real-token",
        "SANDBOX_FAILURE_RATE": "0.5",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'chosen-by-ci.sqlite3'}",
    }
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_probe.py"],
        cwd=copy,
        env=environment,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_the_suites_own_settings_are_the_defaults_whatever_this_shell_holds():
    assert django_settings.SANDBOX_FAILURE_RATE == 0.1
    assert django_settings.CARRIERX_SANDBOX is True
