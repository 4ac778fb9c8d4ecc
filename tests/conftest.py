"""The shared world of the tests: signed-in users in each role, the sandbox carrier over real HTTP,
and a synchronous run of the task worker."""

from __future__ import annotations

import gc
import json
import os
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.contrib.contenttypes.models import ContentType
from django.core.servers.basehttp import WSGIRequestHandler
from django.urls import reverse

from portal import carrierx
from portal.roles import ensure_roles
from tests.netfaults import closed_port_url, silent_server  # noqa: F401  (a fixture, shared)

FIXTURES = Path(__file__).parent / "fixtures" / "carrierx"
# The project's own Python packages (its apps and sms_segments), for tests that copy the code
# somewhere else to start it afresh: every one of them, so a new app is never left behind.
PROJECT_PACKAGES = sorted(
    path.name
    for path in Path(__file__).resolve().parent.parent.iterdir()
    if (path / "__init__.py").exists() and path.name not in ("tests", "bench")
)

# This process ignores .env and the developer's environment (portal/settings.py); so do the
# manage.py and runportal processes the tests start, which inherit this.
os.environ["PORTAL_IGNORE_DOTENV"] = "1"

# The live server answers small requests; without TCP_NODELAY each answer waits ~40 ms for the
# client's delayed ACK, which adds up over the suite.
WSGIRequestHandler.disable_nagle_algorithm = True


def load_fixture(name: str) -> dict:
    """A CarrierX payload as the carrier's own documentation shows it."""
    return json.loads((FIXTURES / f"{name}.json").read_text())


def task_worker(*, batch: bool, interval: float, worker_id: str):
    """django-tasks-db's own worker (what `manage.py db_worker` runs), on every queue."""
    from django_tasks_db.management.commands.db_worker import Worker

    return Worker(
        queue_names=["*"],
        interval=interval,
        batch=batch,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id=worker_id,
        excluded_queue_names=[],
    )


def assert_no_task_failed() -> None:
    from django_tasks_db.models import DBTaskResult

    failed = DBTaskResult.objects.failed().first()
    if failed is not None:
        raise AssertionError(f"task {failed.task_path} failed:\n{failed.traceback}")


def task_given_up(task_id: str) -> None:
    """Leave a job's task as task_leases does when its worker was killed each of the three times
    it ran it: failed for good, the job's own row still saying where it got to."""
    from datetime import timedelta

    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult

    from messaging.services.task_leases import abandoned_tasks_recover

    DBTaskResult.objects.filter(pk=task_id).update(
        status="RUNNING",
        started_at=timezone.now() - timedelta(seconds=600),
        worker_ids=["one", "two", "gone"],
    )
    abandoned_tasks_recover()
    assert DBTaskResult.objects.get(pk=task_id).status == "FAILED"


def run_tasks(max_rounds: int = 50) -> int:
    """Run every task that is due, and the tasks those enqueue, with django-tasks-db's own worker.

    Needs a transactional test (the worker closes and reopens connections, as in production).
    Raises if a task failed, so a broken task never passes silently. Returns how many ran.
    """
    from django_tasks_db.models import DBTaskResult

    ran = 0
    for _ in range(max_rounds):
        ready = DBTaskResult.objects.ready().count()
        if not ready:
            break
        task_worker(batch=True, interval=0, worker_id="pytest").run()
        ran += ready
    assert_no_task_failed()
    return ran


def make_user(username: str, *groups: str, superuser: bool = False) -> User:
    # Transactional tests flush the tables the roles migration filled; put the roles back.
    ensure_roles(Group, Permission, ContentType)
    user = User.objects.create_user(username, password="pw-" + username, is_superuser=superuser)
    for name in groups:
        user.groups.add(Group.objects.get(name=name))
    return user


@pytest.fixture(autouse=True)
def _carrier_nowhere(settings) -> None:
    """No test reaches a port it did not open. Unless a test points the client somewhere (the
    `sandbox` fixture: at its live server), the carrier is a port that refuses connections; the
    sandbox-mode default, 127.0.0.1:$PORT, may be a developer's `make run`."""
    settings.CARRIERX_API_URL = closed_port_url()


@pytest.fixture(autouse=True)
def _fresh_auto_reply_numbers() -> None:
    """A test's rolled-back AutoReply rows send no signal: forget the webhook's copy of them."""
    from messaging.services.auto_reply_numbers import forget

    forget()


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path) -> None:
    """MMS files a test stores go to its own folder, never to the checkout's media/."""
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _no_waiting(settings) -> None:
    """Tests run the worker synchronously: retries and reconciliation happen at once."""
    settings.SEND_BACKOFF_SECONDS = 0
    settings.SEND_RECONCILE_DELAY_SECONDS = 0


@pytest.fixture
def sender(db) -> User:
    return make_user("sam", "Senders")


@pytest.fixture
def number_admin(db) -> User:
    return make_user("nora", "Number admins")


@pytest.fixture
def inbox_staff(db) -> User:
    return make_user("ines", "Inbox staff")


@pytest.fixture
def staff_client(client, db):
    """Signed in as staff: who may use the sandbox's handset and fault control in a browser."""
    client.force_login(User.objects.create_user("stella", password="pw-stella", is_staff=True))
    return client


def sandbox_auth() -> dict:
    """The header a script sends to the sandbox: its token (random per install)."""
    from django.conf import settings

    return {"Authorization": f"Bearer {settings.CARRIERX_TOKEN}"}


@pytest.fixture
def sender_client(client, sender):
    client.force_login(sender)
    return client


@pytest.fixture
def admin_client_(client, number_admin):
    client.force_login(number_admin)
    return client


@pytest.fixture
def webhook_url(settings) -> str:
    return reverse("webhook", args=[settings.CARRIERX_WEBHOOK_SECRET])


@pytest.fixture
def sandbox(live_server, settings):
    """The built-in sandbox, seeded, reached over real HTTP at the live server; its partner's SMS
    callback points at this portal's webhook on the same live server."""
    from sandbox.seed import seed

    settings.CARRIERX_API_URL = f"{live_server.url}/sandbox/core/v2"
    settings.PUBLIC_URL = live_server.url
    settings.SANDBOX_STEP_SECONDS = 0
    settings.SANDBOX_FAILURE_RATE = 0
    settings.SANDBOX_ENABLEMENT_SECONDS = 0
    webhook = live_server.url + reverse("webhook", args=[settings.CARRIERX_WEBHOOK_SECRET])
    yield seed(sms_callback_url=webhook)
    # Kept-alive connections would hold live-server threads (and their database connections)
    # open past the test; PostgreSQL then cannot drop the test database.
    carrierx._session.close()


@pytest.fixture
def sandbox_stamps_at_its_edge():
    """Tests that count sends as the carrier does (`SandboxMessage.received_at`) keep this
    process's cyclic collector off while they run. The sandbox answers from the live server's
    threads in this process, whose heap late in a suite is large: a full collection holds every
    thread for up to a few hundred ms, and a send that arrived in it is stamped after, beside
    the next ones. A carrier stamps at its edge; the campaign bench's stand-in runs with its
    collector off for the same reason (bench/standin_gunicorn.py)."""
    gc.collect()
    gc.disable()
    yield
    gc.enable()


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix) -> None:
    # Persistent connections from live-server threads would keep the test database busy at
    # teardown (PostgreSQL then refuses to drop it).
    from django.conf import settings

    settings.DATABASES["default"]["CONN_MAX_AGE"] = 0
