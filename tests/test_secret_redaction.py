"""The webhook secret: long and random outside sandbox mode (a system check), and never shown in a
page, a debug error page or a log line."""

from __future__ import annotations

import logging
import secrets
import sys

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory
from django.urls import include, path
from django.views.debug import technical_500_response

from portal.checks import check_webhook_secret
from portal.exception_reporter import RedactingExceptionReporter
from tests.test_security import run_django

# --- the system check -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "secret",
    [
        "",
        "a",
        "y" * 23,  # one short of the minimum
        "a" * 40,
        "ab" * 20,
        "password1234password1234",
        "abcdefg" * 5,  # repeats, whatever its length
    ],
)
def test_outside_sandbox_mode_a_short_or_repetitive_secret_is_an_error(settings, secret):
    settings.CARRIERX_SANDBOX = False
    settings.CARRIERX_WEBHOOK_SECRET = secret

    [error] = check_webhook_secret()

    assert error.id == "portal.E001"
    assert error.is_serious()
    assert 'python -c "import secrets; print(secrets.token_urlsafe(32))"' in error.hint


@pytest.mark.parametrize(
    "secret", [secrets.token_urlsafe(32), secrets.token_urlsafe(18), secrets.token_hex(16)]
)
def test_outside_sandbox_mode_a_random_secret_passes(settings, secret):
    settings.CARRIERX_SANDBOX = False
    settings.CARRIERX_WEBHOOK_SECRET = secret

    assert check_webhook_secret() == []


def test_the_sandbox_keeps_its_development_secret(settings):
    settings.CARRIERX_SANDBOX = True
    settings.CARRIERX_WEBHOOK_SECRET = "sandbox-webhook"

    assert check_webhook_secret() == []


def test_a_weak_secret_stops_the_portal_from_starting_and_says_how_to_make_one(tmp_path):
    result = run_django(
        tmp_path, "manage.py", "check", CARRIERX_TOKEN="x", CARRIERX_WEBHOOK_SECRET="a"
    )

    assert result.returncode != 0
    assert "(portal.E001) CARRIERX_WEBHOOK_SECRET is 1 characters long" in result.stderr
    assert "secrets.token_urlsafe(32)" in result.stderr
    good = run_django(
        tmp_path,
        "manage.py",
        "check",
        CARRIERX_TOKEN="x",
        CARRIERX_WEBHOOK_SECRET=secrets.token_urlsafe(32),
    )
    assert good.returncode == 0, good.stderr


# --- the debug error page and the logs -----------------------------------------------------------


def crash(request: HttpRequest, secret: str) -> HttpResponse:
    callback_for = secret  # a local variable, which the debug page lists  # noqa: F841
    raise ValueError(f"cannot handle the callback for {secret}")


# A test-only URL under the webhook's secret path: whatever goes wrong there, the page must not
# show the secret (the webhook itself is not meant to crash, so it cannot be relied on to).
urlpatterns = [
    path("webhooks/carrierx/<str:secret>/crash/", crash),
    path("", include("portal.urls")),
]


@pytest.fixture
def secret(settings) -> str:
    settings.CARRIERX_WEBHOOK_SECRET = value = "s3cr&t<" + secrets.token_urlsafe(24)
    return value


def exception_info(secret: str):
    try:
        crash(RequestFactory().post("/"), secret)
    except ValueError:
        return sys.exc_info()
    raise AssertionError("crash() did not raise")


def spellings_of(secret: str) -> list[str]:
    from urllib.parse import quote

    from django.utils.html import escape

    return [secret, escape(secret), quote(secret), escape(quote(secret)), secret[7:]]


def test_the_debug_error_page_never_shows_the_secret(settings, secret):
    settings.DEBUG = True

    def request(accept: str) -> HttpRequest:
        return RequestFactory().post(
            f"/webhooks/carrierx/{secret}/crash/?sid={secret}",
            data=f'{{"secret": "{secret}"}}',
            content_type="application/json",
            headers={"accept": accept, "x-note": secret},
        )

    html_page = technical_500_response(request("text/html"), *exception_info(secret))
    text_page = technical_500_response(request("text/plain"), *exception_info(secret))

    for page in (html_page, text_page):
        body = page.content.decode()
        assert page.status_code == 500
        assert "ValueError at /webhooks/carrierx/[redacted]/crash/" in body  # the title
        assert "cannot handle the callback for [redacted]" in body
        for spelling in spellings_of(secret):
            assert spelling not in body
    assert "<title>" in html_page.content.decode()
    assert html_page["Content-Type"].startswith("text/html")
    assert text_page["Content-Type"].startswith("text/plain")


def test_the_error_mail_never_shows_the_secret_either(secret):
    request = RequestFactory().post(f"/webhooks/carrierx/{secret}/crash/")
    reporter = RedactingExceptionReporter(request, *exception_info(secret), is_email=True)

    for body in (reporter.get_traceback_html(), reporter.get_traceback_text()):
        assert "cannot handle the callback for [redacted]" in body
        for spelling in spellings_of(secret):
            assert spelling not in body


@pytest.mark.urls(__name__)
def test_a_crash_under_the_secret_path_shows_and_logs_no_secret(db, settings, secret, caplog):
    settings.DEBUG = True
    caplog.set_level(logging.DEBUG)
    client = Client(raise_request_exception=False)

    response = client.post(f"/webhooks/carrierx/{secret}/crash/", "{}", "application/json")

    assert response.status_code == 500
    page = response.content.decode()
    title = "<title>ValueError at /webhooks/carrierx/[redacted]/crash/</title>"
    assert title in " ".join(page.split())
    assert "Internal Server Error: /webhooks/carrierx/[redacted]/crash/" in caplog.messages
    # What a log handler writes: the message and the traceback under it.
    written = caplog.text
    assert "cannot handle the callback for [redacted]" in written
    for spelling in spellings_of(secret):
        assert spelling not in page
        assert spelling not in written


@pytest.mark.parametrize("debug", [True, False])
def test_a_wrong_path_under_the_webhook_answers_404_without_echoing_the_secret(db, settings, debug):
    settings.DEBUG = debug
    secret = settings.CARRIERX_WEBHOOK_SECRET
    client = Client(raise_request_exception=False)

    for url in (f"/webhooks/carrierx/{secret}/x", f"/webhooks/carrierx/{secret}/x/y/"):
        response = client.get(url)

        assert response.status_code == 404
        assert response.json() == {"error": "not found"}
        assert secret not in response.content.decode()
