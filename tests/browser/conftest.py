"""The browser tests' world: Debian's Chromium driven by Playwright against the live server, a
fresh browser context per test, the real task worker running beside the browser, and a watch on
the console that fails a test on any JavaScript error or Content-Security-Policy violation."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
import requests
from django.db import connections
from django.urls import reverse
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

from tests.conftest import assert_no_task_failed, sandbox_auth, task_worker

CHROMIUM = "/usr/bin/chromium"
# Without the networking flags Chromium keeps trying to reach hosts this closed network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
VIEWPORT = {"width": 1280, "height": 800}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
# A test that waits longer than this for one thing has found a bug, not a slow machine.
DEFAULT_TIMEOUT_MS = 15_000
CSP_REPORTER = """
document.addEventListener("securitypolicyviolation", (e) => window.__cspViolation(
  `${e.violatedDirective}: ${e.blockedURI || "inline code"} at ${e.sourceFile}:${e.lineNumber}`
));
"""


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """One Chromium for all the browser tests (starting it is the slow part).

    Playwright's sync API keeps an asyncio loop running in this thread while it is started, and
    Django refuses ORM calls from a thread with a running loop; the tests' own ORM calls are
    synchronous, so allow them — for as long as Playwright runs and no longer, which is why this is
    scoped to the browser package and not the session: the rest of the suite keeps the check.
    """
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(autouse=True)
def _quick_password_hashing(settings) -> None:
    """The login form and the password check are the real ones; only the hash is cheap, as
    PBKDF2's million rounds would be most of a sign-in's time on a small machine."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


class ConsoleErrors:
    """Everything the page reported as broken: console errors (CSP violations among them) and
    uncaught exceptions. A test that provokes an error on purpose says so with `expect()`."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.expected: list[str] = []

    def console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.seen.append(f"console: {message.text} ({message.location.get('url', '')})")

    def csp(self, violation: str) -> None:
        self.seen.append(f"csp: {violation}")

    def uncaught(self, error: Exception) -> None:
        self.seen.append(f"uncaught: {error}")

    def expect(self, fragment: str) -> None:
        self.expected.append(fragment)

    def unexpected(self) -> list[str]:
        return [e for e in self.seen if not any(f in e for f in self.expected)]


@pytest.fixture
def console_errors() -> ConsoleErrors:
    return ConsoleErrors()


@pytest.fixture
def page(browser, live_server, console_errors) -> Iterator[Page]:
    """A page in a fresh context (no cookies from other tests), 1280 px wide, on the live server;
    the test fails if the page logged an error or broke the Content-Security-Policy."""
    context = browser.new_context(base_url=live_server.url, viewport=VIEWPORT)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    # Chromium also logs CSP violations to the console; the event says which directive and where.
    context.expose_function("__cspViolation", console_errors.csp)
    context.add_init_script(CSP_REPORTER)
    page = context.new_page()
    page.on("console", console_errors.console)
    page.on("pageerror", console_errors.uncaught)
    yield page
    context.close()
    unexpected = console_errors.unexpected()
    assert not unexpected, "the browser reported errors:\n" + "\n".join(unexpected)


@pytest.fixture
def worker(transactional_db) -> Iterator[object]:
    """django-tasks-db's own worker in a background thread, as `make run` runs it beside the web
    server: sends, status steps and callbacks happen while the browser watches."""
    worker = task_worker(batch=False, interval=0.2, worker_id="browser")
    crashed: list[BaseException] = []

    def run() -> None:
        try:
            worker.run()
        except BaseException as err:  # re-raised in the test's thread at teardown
            crashed.append(err)
        finally:
            # PostgreSQL cannot drop the test database while this thread's connection is open.
            connections.close_all()

    thread = threading.Thread(target=run, name="db_worker", daemon=True)
    thread.start()
    yield worker
    worker.running = False
    thread.join(timeout=30)
    assert not thread.is_alive(), "the task worker did not stop"
    if crashed:
        raise crashed[0]
    assert_no_task_failed()


def sign_in(page: Page, user, *, then: str | None = None) -> None:
    """Sign in through the login form, as a person does (the password is make_user's); `then` is
    the page to land on, as when login_required sent them to the form."""
    login = reverse("login")
    page.goto(f"{login}?{urlencode({'next': then})}" if then else login)
    page.get_by_label("Username").fill(user.get_username())
    page.get_by_label("Password").fill("pw-" + user.get_username())
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: login not in url)


def text_our_did(live_server, *, handset: str, did: str, message: str) -> dict:
    """A text from a handset to one of our DIDs, through the sandbox's simulator."""
    response = requests.post(
        f"{live_server.url}{reverse('sandbox:simulate_inbound')}",
        json={"from": handset, "to": did, "message": message},
        headers=sandbox_auth(),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()


def wait_until(condition: Callable[[], object], *, what: str, timeout: float = 10.0) -> None:
    """Wait for the worker to have done something the test needs before it goes on."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(0.1)


def mark_page(page: Page) -> None:
    """Leave a marker in the page's JavaScript world; a navigation or reload wipes it."""
    page.evaluate("window.__stillThisPage = true")


def still_same_page(page: Page) -> bool:
    return page.evaluate("window.__stillThisPage === true")


def screenshot(page: Page, name: str) -> None:
    """A full-page PNG for the README, only when SCREENSHOTS=1 (CI runs leave docs/ alone)."""
    if os.environ.get("SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOTS / name, full_page=True, animations="disabled")
