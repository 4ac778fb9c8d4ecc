"""Sandbox mode only when asked for or in development: with DEBUG off it needs CARRIERX_SANDBOX=1,
check --deploy warns while it is on, its token is random per install (kept beside the checkout like
the secret key) and only staff or that token may use the sandbox's API, handset, simulator and
fault control."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import stat
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from sandbox.models import SandboxFaults, SandboxMessage, SandboxPartner
from sandbox.seed import seed
from tests.conftest import PROJECT_PACKAGES, make_user
from tests.test_security import BASE_DIR, run_django

PRODUCTION = {
    "DEBUG": "off",
    "SECRET_KEY": secrets.token_urlsafe(64),
    "ALLOWED_HOSTS": "sms.example.com",
}
HANDSET = "15162065574"
OUR_DID = "15162065318"


# --- starting up ----------------------------------------------------------------------------------


def test_with_debug_off_and_no_token_the_portal_refuses_to_start_and_says_what_to_set(tmp_path):
    result = run_django(tmp_path, "manage.py", "check", **PRODUCTION)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "DEBUG is off and CARRIERX_TOKEN is not set" in result.stderr
    assert "set CARRIERX_SANDBOX=1" in result.stderr


def test_with_debug_off_an_explicit_sandbox_off_and_no_token_is_refused_too(tmp_path):
    result = run_django(tmp_path, "manage.py", "check", **PRODUCTION, CARRIERX_SANDBOX="0")

    assert result.returncode != 0
    assert "DEBUG is off and CARRIERX_TOKEN is not set" in result.stderr


def test_with_debug_off_and_carrierx_sandbox_1_it_starts_and_check_deploy_warns(tmp_path):
    result = run_django(
        tmp_path, "manage.py", "check", "--deploy", **PRODUCTION, CARRIERX_SANDBOX="1"
    )

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "(portal.W001) Sandbox mode is on" in output
    # Only the deploy check says so; a plain check (every start) stays quiet.
    plain = run_django(tmp_path, "manage.py", "check", **PRODUCTION, CARRIERX_SANDBOX="1")
    assert plain.returncode == 0, plain.stderr
    assert "portal.W001" not in plain.stdout + plain.stderr


# --- the token: random per install, kept --------------------------------------------------------

PRINT_TOKEN = (
    "import django; django.setup(); from django.conf import settings; "
    "print(settings.CARRIERX_SANDBOX, settings.CARRIERX_TOKEN)"
)


def fresh_install(directory: Path) -> Path:
    """A copy of the checkout's code with none of its local state (.secret_key, .sandbox_token)."""
    ignore = shutil.ignore_patterns("__pycache__", ".secret_key*", ".sandbox_token*")
    for app in PROJECT_PACKAGES:
        shutil.copytree(BASE_DIR / app, directory / app, ignore=ignore)
    shutil.copy(BASE_DIR / "manage.py", directory)
    return directory


def start(install: Path, **env: str) -> tuple[str, str]:
    """Start the portal's settings in `install` with a clean environment: (sandbox mode, token)."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CARRIERX_", "DJANGO_")) and key not in {"DEBUG", "DATABASE_URL"}
    }
    environment |= {
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DATABASE_URL": f"sqlite:///{install / 'db.sqlite3'}",
        "PYTHONDONTWRITEBYTECODE": "1",
        **env,
    }
    result = subprocess.run(
        [sys.executable, "-c", PRINT_TOKEN],
        cwd=install,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    mode, token = result.stdout.split()
    return mode, token


def test_two_fresh_installs_get_different_tokens_and_each_keeps_its_own(tmp_path):
    first = fresh_install(tmp_path / "first")
    second = fresh_install(tmp_path / "second")

    mode, token = start(first)
    other_mode, other_token = start(second)

    assert (mode, other_mode) == ("True", "True")
    assert token != other_token
    assert len(token) >= 40
    kept = first / ".sandbox_token"
    assert kept.read_text().strip() == token
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600  # a credential: only its owner reads it
    # Restarts (and every other process of the install) see the same token.
    assert start(first) == ("True", token)
    assert start(first, DEBUG="off", SECRET_KEY="k" * 60, CARRIERX_SANDBOX="1") == ("True", token)


def test_with_carrierx_token_set_the_sandbox_accepts_exactly_that(tmp_path):
    install = fresh_install(tmp_path / "install")

    assert start(install, CARRIERX_SANDBOX="1", CARRIERX_TOKEN="chosen-token") == (
        "True",
        "chosen-token",
    )
    assert not (install / ".sandbox_token").exists()


def test_the_seed_command_prints_the_token_the_api_and_a_curl_to_try(db, settings):
    settings.CARRIERX_API_URL = "http://127.0.0.1:8123/sandbox/core/v2"
    out = StringIO()

    call_command("sandbox_seed", stdout=out)

    token = settings.CARRIERX_TOKEN
    printed = out.getvalue().splitlines()
    assert "Sandbox API: http://127.0.0.1:8123/sandbox/core/v2" in printed
    assert f"Sandbox token: {token}" in printed
    assert (
        f'  curl -H "Authorization: Bearer {token}" '
        "http://127.0.0.1:8123/sandbox/core/v2/phonenumber/dids"
    ) in printed


# --- who may use the sandbox ----------------------------------------------------------------------

PARTNERS = "/sandbox/core/v2/partners"
SIMULATE = "/sandbox/simulate/inbound"
CONTROL = "/sandbox/control"
PHONE = "/sandbox/phone/"
TEXT = {"from": HANDSET, "to": OUR_DID, "message": "Let me in"}


@pytest.fixture
def partner(settings) -> SandboxPartner:
    settings.SANDBOX_STEP_SECONDS = 0
    settings.CARRIERX_WEBHOOK_SECRET = "webhook-" + secrets.token_urlsafe(24)
    webhook = "http://127.0.0.1:8000" + reverse("webhook", args=[settings.CARRIERX_WEBHOOK_SECRET])
    return seed(sms_callback_url=webhook)


def try_everything(client: Client, **headers: str) -> dict[str, object]:
    """Each sandbox tool once, as a script or a browser would use it: what each answered."""
    return {
        "partners": client.get(PARTNERS, headers=headers),
        "phone": client.get(PHONE, headers=headers),
        "phone post": client.post(
            PHONE, {"handset": HANDSET, "did": OUR_DID, "message": "Hi"}, headers=headers
        ),
        "simulate": client.post(
            SIMULATE, json.dumps(TEXT), content_type="application/json", headers=headers
        ),
        "control": client.get(CONTROL, headers=headers),
        "control patch": client.patch(
            CONTROL, {"rate_limit": 1}, content_type="application/json", headers=headers
        ),
        "control delete": client.delete(CONTROL, headers=headers),
    }


def assert_refused_and_nothing_changed(answers: dict, settings) -> None:
    for name in ("partners", "simulate", "control", "control patch", "control delete"):
        response = answers[name]
        assert response.status_code == 401, name
        assert response["Content-Type"] == "application/json", name
        assert response.json()["message"] == "Bad credentials", name
        assert settings.CARRIERX_WEBHOOK_SECRET not in response.content.decode(), name
    assert not SandboxMessage.objects.exists()
    assert not SandboxFaults.objects.exists()


@pytest.mark.django_db
def test_anonymous_callers_are_refused_everything_and_nothing_changes(client, partner, settings):
    answers = try_everything(client)

    assert_refused_and_nothing_changed(answers, settings)
    for name in ("phone", "phone post"):
        assert answers[name].status_code == 302, name
        assert answers[name]["Location"] == f"/accounts/login/?next={PHONE}", name


@pytest.mark.django_db
def test_a_wrong_token_is_refused_like_none(client, partner, settings):
    answers = try_everything(client, authorization="Bearer " + secrets.token_urlsafe(32))

    assert_refused_and_nothing_changed(answers, settings)
    assert answers["phone"].status_code == 302


@pytest.mark.django_db
def test_signed_in_people_who_are_not_staff_are_refused_too(client, partner, settings):
    client.force_login(make_user("sam", "Senders", "Number admins", "Inbox staff"))

    answers = try_everything(client)

    assert_refused_and_nothing_changed(answers, settings)
    assert answers["phone"].status_code == 403
    assert answers["phone post"].status_code == 403


@pytest.mark.django_db
def test_with_the_token_every_tool_works(partner, settings):
    # A script: no session, no CSRF token, only the sandbox's token.
    client = Client(enforce_csrf_checks=True)
    token = {"authorization": f"Bearer {settings.CARRIERX_TOKEN}"}

    partners = client.get(PARTNERS, headers=token)
    assert partners.status_code == 200
    assert partners.json()["items"][0]["partner_sid"] == partner.partner_sid
    assert client.get(PHONE, headers=token).status_code == 200
    simulated = client.post(
        SIMULATE, json.dumps(TEXT), content_type="application/json", headers=token
    )
    assert simulated.status_code == 200
    assert SandboxMessage.objects.get().message == "Let me in"
    patched = client.patch(
        CONTROL, {"rate_limit": 0.25}, content_type="application/json", headers=token
    )
    assert patched.status_code == 200
    assert SandboxFaults.objects.get().rate_limit == 0.25
    assert client.get(CONTROL, headers=token).json()["rate_limit"] == 0.25


@pytest.mark.django_db
def test_signed_in_staff_use_the_tools_with_their_session_and_a_csrf_token(partner):
    client = Client(enforce_csrf_checks=True)
    client.force_login(User.objects.create_user("stan", password="pw-stan", is_staff=True))

    page = client.get(PHONE)
    assert page.status_code == 200
    csrf = {"x-csrftoken": client.cookies["csrftoken"].value}

    # The JSON endpoints skip Django's CSRF middleware for scripts; a session must still carry it.
    assert client.patch(CONTROL, {"drop": 0.5}, content_type="application/json").status_code == 403
    assert not SandboxFaults.objects.exists()
    patched = client.patch(CONTROL, {"drop": 0.5}, content_type="application/json", headers=csrf)
    assert patched.status_code == 200
    assert SandboxFaults.objects.get().drop == 0.5
    simulated = client.post(SIMULATE, json.dumps(TEXT), content_type="application/json")
    assert simulated.status_code == 403
    simulated = client.post(
        SIMULATE, json.dumps(TEXT), content_type="application/json", headers=csrf
    )
    assert simulated.status_code == 200
    assert SandboxMessage.objects.get().message == "Let me in"
