"""What makes the portal safe to put on the internet: production settings that pass Django's deploy
check, a CSP with nothing inline, login lockout, the webhook secret required (and kept out of the
logs), and the sandbox gone outside sandbox mode."""

from __future__ import annotations

import logging
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client, RequestFactory

from portal.proxy import client_ip
from tests.conftest import make_user, sandbox_auth

BASE_DIR = Path(__file__).resolve().parent.parent
LOGIN_URL = "/accounts/login/"


def run_django(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """Run `python <args>` in a fresh interpreter with only the given portal environment."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CARRIERX_", "SECURE_", "AXES_", "DJANGO_SUPERUSER_"))
        and key not in {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "BEHIND_TLS_PROXY"}
    }
    environment |= {
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        **env,
    }
    return subprocess.run(
        [sys.executable, *args],
        cwd=BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


# --- production settings --------------------------------------------------------------------------


def test_check_deploy_with_production_settings_reports_nothing(tmp_path):
    result = run_django(
        tmp_path,
        "manage.py",
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="off",
        SECRET_KEY=secrets.token_urlsafe(64),
        ALLOWED_HOSTS="sms.example.com",
        CARRIERX_TOKEN="x",
        CARRIERX_WEBHOOK_SECRET=secrets.token_urlsafe(32),
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "WARNINGS" not in output
    assert "no issues" in output


def test_production_turns_on_https_only_cookies_hsts_and_hashed_static_files(tmp_path):
    script = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, "
        "s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_PROXY_SSL_HEADER, "
        "s.X_FRAME_OPTIONS, s.STORAGES['staticfiles']['BACKEND'])"
    )
    production = {
        "DEBUG": "off",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": "sms.example.com",
        "CARRIERX_TOKEN": "x",
        "CARRIERX_WEBHOOK_SECRET": "y",
    }
    result = run_django(tmp_path, "-c", script, **production)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "True",
        "True",
        "True",
        "31536000",
        "True",
        "None",
        "DENY",
        "whitenoise.storage.CompressedManifestStaticFilesStorage",
    ]

    behind_proxy = run_django(tmp_path, "-c", script, **production, BEHIND_TLS_PROXY="on")
    assert "('HTTP_X_FORWARDED_PROTO', 'https')" in behind_proxy.stdout


def test_behind_a_proxy_the_lockout_counts_the_address_the_proxy_saw():
    request = RequestFactory().post(
        LOGIN_URL, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7"
    )
    # The left entry came from the client and can say anything; the last one our proxy added.
    assert client_ip(request) == "203.0.113.7"
    assert client_ip(RequestFactory().get("/", REMOTE_ADDR="10.0.0.2")) == "10.0.0.2"


# --- Content Security Policy ----------------------------------------------------------------------


def test_pages_carry_a_csp_without_unsafe_inline_or_eval(client, db):
    response = client.get(LOGIN_URL)
    policy = response["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    # blob: is the composer's thumbnails of files being attached, made in the page itself.
    assert directives["img-src"] == "'self' data: blob:"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy
    # htmx would otherwise inject its indicator <style> and may eval hx-on code.
    config = (
        """content='{"includeIndicatorStyles": false, "allowEval": false, """
        """"historyCacheSize": 0, "refreshOnHistoryMiss": true}'"""
    )
    assert f'<meta name="htmx-config" {config}>' in response.content.decode()


def test_the_admin_carries_the_csp_too(admin_client):
    response = admin_client.get("/admin/")
    assert response.status_code == 200
    assert "script-src 'self'" in response["Content-Security-Policy"]


def template_files() -> list[Path]:
    roots = [BASE_DIR / "templates", *sorted(BASE_DIR.glob("*/templates"))]
    return [path for root in roots for path in sorted(root.rglob("*.html"))]


SCRIPT_TAG = re.compile(r"<script\b([^>]*)>", re.IGNORECASE)
STYLE_ELEMENT = re.compile(r"<style\b", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"\sstyle\s*=", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)
# htmx features that evaluate JavaScript: hx-on, hx-vars, js: values, trigger filters [...].
HTMX_EVAL = re.compile(
    r"\b(?:data-)?hx-on\b|\b(?:data-)?hx-vars\b"
    r"|\b(?:data-)?hx-vals\s*=\s*[\"']\s*(?:js|javascript):"
    r"|\b(?:data-)?hx-trigger\s*=\s*[\"'][^\"']*\[",
    re.IGNORECASE,
)
JS_URL = re.compile(r"\b(?:href|src|action)\s*=\s*[\"']\s*javascript:", re.IGNORECASE)


def inline_code(html: str) -> list[str]:
    """Everything in a template or a page that a CSP without 'unsafe-inline' would block."""
    found = [
        match.group(0)
        for match in SCRIPT_TAG.finditer(html)
        if not re.search(r"\bsrc\s*=", match.group(1))
        and not re.search(r"\btype\s*=\s*[\"']application/json[\"']", match.group(1))
    ]
    for pattern in (STYLE_ELEMENT, STYLE_ATTRIBUTE, EVENT_HANDLER, HTMX_EVAL, JS_URL):
        found += [match.group(0) for match in pattern.finditer(html)]
    return found


def test_the_inline_code_scan_finds_what_it_must():
    assert inline_code('<script>alert(1)</script><script type="module">x</script>') == [
        "<script>",
        '<script type="module">',
    ]
    assert inline_code('<script src="/static/a.js" defer></script>') == []
    assert inline_code('<script id="t" type="application/json">{}</script>') == []
    assert len(inline_code('<p style="color:red" onclick="go()">')) == 2
    assert len(inline_code("<button hx-on:click=\"x()\" hx-vals='js:{a: 1}'>")) == 2
    assert len(inline_code('<div hx-trigger="keyup[ctrlKey]"><a href="javascript:go()">')) == 2
    assert inline_code('<div hx-trigger="every 2s, live:resume" data-live>') == []


def test_no_template_has_inline_scripts_styles_or_handlers():
    files = template_files()
    assert any(path.name == "base.html" for path in files)
    offenders = {
        str(path.relative_to(BASE_DIR)): found
        for path in files
        if (found := inline_code(path.read_text()))
    }
    assert offenders == {}


def test_rendered_pages_have_no_inline_code(client, admin_client, admin_user):
    pages = [
        client.get(LOGIN_URL),
        admin_client.get("/admin/auth/user/"),
        admin_client.get(f"/admin/auth/user/{admin_user.pk}/change/"),
    ]
    for page in pages:
        assert page.status_code == 200
        assert inline_code(page.content.decode()) == []


# --- login lockout --------------------------------------------------------------------------------


def sign_in(client: Client, username: str, password: str):
    return client.post(LOGIN_URL, {"username": username, "password": password})


def test_five_failed_sign_ins_lock_out_that_user_from_that_address(client, db, settings):
    settings.AXES_FAILURE_LIMIT = 5
    make_user("sam")
    ines = make_user("ines")

    answers = [sign_in(client, "sam", f"guess-{n}").status_code for n in range(5)]
    assert answers == [200, 200, 200, 200, 429]

    # Now even the right password is refused, with the lockout page instead of a session.
    response = sign_in(client, "sam", "pw-sam")
    assert response.status_code == 429
    assert "Sign-in locked" in response.content.decode()
    assert "Try again in 30" in response.content.decode()
    assert "_auth_user_id" not in client.session

    # A colleague at the same address signs in as usual.
    colleague = Client()
    response = sign_in(colleague, "ines", "pw-ines")
    assert response.status_code == 302
    assert colleague.session["_auth_user_id"] == str(ines.pk)


def test_a_good_sign_in_before_the_limit_works(client, db):
    sam = make_user("sam")
    for n in range(3):
        sign_in(client, "sam", f"guess-{n}")
    response = sign_in(client, "sam", "pw-sam")
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(sam.pk)


# --- webhook secret and sandbox -------------------------------------------------------------------


def test_real_carrier_mode_refuses_to_start_without_a_webhook_secret(tmp_path):
    result = run_django(tmp_path, "manage.py", "check", CARRIERX_TOKEN="a-real-token")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "CARRIERX_WEBHOOK_SECRET is required" in result.stderr


SANDBOX_OFF_SCRIPT = """
import django
django.setup()
from django.test import Client
client = Client(HTTP_HOST="localhost")
for method, path in [
    ("get", "/sandbox/core/v2/sms/messages"),
    ("post", "/sandbox/core/v2/sms/messages"),
    ("get", "/sandbox/phone/"),
    ("post", "/sandbox/simulate/inbound"),
    ("get", "/accounts/login/"),
]:
    print(method, path, getattr(client, method)(path).status_code)
"""


def test_outside_sandbox_mode_the_sandbox_does_not_exist(tmp_path):
    result = run_django(
        tmp_path,
        "-c",
        SANDBOX_OFF_SCRIPT,
        CARRIERX_SANDBOX="off",
        CARRIERX_WEBHOOK_SECRET="s",
    )
    assert result.returncode == 0, result.stderr
    answers = dict(line.rsplit(" ", 1) for line in result.stdout.splitlines())
    assert answers == {
        "get /sandbox/core/v2/sms/messages": "404",
        "post /sandbox/core/v2/sms/messages": "404",
        "get /sandbox/phone/": "404",
        "post /sandbox/simulate/inbound": "404",
        "get /accounts/login/": "200",  # the portal itself is up
    }


def test_in_sandbox_mode_the_sandbox_is_there(sandbox, staff_client):
    page = staff_client.get("/sandbox/phone/")
    assert page.status_code == 200
    assert "<h1>Sandbox handset</h1>" in page.content.decode()
    # Its Core API answers as a carrier would: no token, no entry; with the token, a message list.
    api = "/sandbox/core/v2/sms/messages"
    assert Client().get(api).status_code == 401
    listing = Client().get(api, headers=sandbox_auth())
    assert listing.status_code == 200
    assert listing.json()["count"] == 0


# --- no secret in the logs ------------------------------------------------------------------------


def test_the_webhook_secret_never_reaches_the_logs(client, db, settings, caplog):
    settings.CARRIERX_WEBHOOK_SECRET = real = "real-" + secrets.token_urlsafe(16)
    guess = "guess-" + secrets.token_urlsafe(16)
    caplog.set_level(logging.DEBUG)

    wrong = client.post(f"/webhooks/carrierx/{guess}/", "{}", content_type="application/json")
    bad_json = client.post(f"/webhooks/carrierx/{real}/", "{oops", content_type="application/json")

    assert wrong.status_code == 404
    assert bad_json.status_code == 400
    messages = [record.getMessage() for record in caplog.records]
    # The failures are still logged, just without the secret part of the path.
    assert "Not Found: /webhooks/carrierx/[redacted]/" in messages
    assert "Bad Request: /webhooks/carrierx/[redacted]/" in messages
    for record in caplog.records:
        text = record.getMessage() + repr(record.args)
        assert real not in text
        assert guess not in text


def test_the_development_servers_request_lines_hide_the_secret_too(settings, caplog):
    settings.CARRIERX_WEBHOOK_SECRET = real = "real-" + secrets.token_urlsafe(16)
    server_log = logging.getLogger("django.server")
    server_log.addHandler(caplog.handler)  # it does not propagate to the root logger
    try:
        # What runserver's request handler logs for a refused callback.
        server_log.warning('"%s" %s %s', f"POST /webhooks/carrierx/{real}/ HTTP/1.1", "404", "22")
    finally:
        server_log.removeHandler(caplog.handler)
    assert [record.getMessage() for record in caplog.records] == [
        '"POST /webhooks/carrierx/[redacted]/ HTTP/1.1" 404 22'
    ]


LOG_THROUGH_REAL_CONFIG = """
import logging
from django.conf import settings
secret = settings.CARRIERX_WEBHOOK_SECRET
logging.getLogger("django.server").warning(
    '"%s" %s %s', f"POST /webhooks/carrierx/{secret}/ HTTP/1.1", "404", "22"
)
logging.getLogger("django.request").warning("Not Found: /webhooks/carrierx/%s/", secret)
logging.getLogger("sandbox.tasks").warning("the secret %s appears on its own", secret)
print("logged")
"""


def test_the_logging_config_in_settings_redacts_the_secret_on_the_console(tmp_path):
    """The real LOGGING, applied by Django at start-up, not a filter built by the test."""
    real = "real-" + secrets.token_urlsafe(16)
    result = run_django(
        tmp_path,
        "manage.py",
        "shell",
        "-c",
        LOG_THROUGH_REAL_CONFIG,
        CARRIERX_WEBHOOK_SECRET=real,
    )
    assert result.returncode == 0, result.stderr
    assert "logged" in result.stdout
    assert real not in result.stdout + result.stderr
    lines = result.stderr.splitlines()
    assert '"POST /webhooks/carrierx/[redacted]/ HTTP/1.1" 404 22' in lines
    assert "Not Found: /webhooks/carrierx/[redacted]/" in lines
    # The console's format puts time, level, logger and request id before the message.
    assert any(line.endswith(" the secret [redacted] appears on its own") for line in lines)


@pytest.mark.parametrize(
    "message",
    [
        "callback to http://127.0.0.1:8000/webhooks/carrierx/{secret}/ failed",
        "the secret {secret} appears on its own",
    ],
)
def test_the_console_handler_redacts_what_any_logger_writes(settings, message):
    from portal.log_filters import RedactWebhookSecret

    settings.CARRIERX_WEBHOOK_SECRET = real = "real-" + secrets.token_urlsafe(16)
    args = (message.format(secret=real),)
    record = logging.LogRecord("sandbox.tasks", logging.WARNING, __file__, 1, "%s", args, None)
    assert RedactWebhookSecret().filter(record) is True
    assert real not in record.getMessage()
    assert "[redacted]" in record.getMessage()
