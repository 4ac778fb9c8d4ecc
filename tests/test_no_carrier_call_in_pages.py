"""Pages never call the carrier: they read the local cache and say how old it is. The cache is
filled by `manage.py numbers_sync` and the periodic background task; a failed read is recorded
(when, the carrier's reason) and retried on the task's schedule, never by a page load."""

from __future__ import annotations

import socket
import threading
import time
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from phone_numbers.models import Did, DidGroup, SyncStatus
from phone_numbers.sync import numbers_sync
from phone_numbers.tasks import numbers_sync_periodic
from tests.conftest import make_user, run_tasks
from tests.netfaults import closed_port_url

MAIN_LINE = "15162065575"
PERIODIC = numbers_sync_periodic.module_path
UNREACHABLE_NOTE = "Could not reach CarrierX"


def portal_pages() -> list[str]:
    did = Did.objects.get(phonenumber=MAIN_LINE)
    group = DidGroup.objects.get(name="Support")
    return [
        reverse("messaging:send"),
        reverse("messaging:inbox"),
        reverse("messaging:messages"),
        reverse("numbers:list"),
        did.get_absolute_url(),
        reverse("numbers:groups"),
        group.get_absolute_url(),
        reverse("numbers:partner_callbacks"),
        reverse("messaging:auto_replies"),
        reverse("campaigns:list"),
        reverse("campaigns:new"),
    ]


@pytest.fixture
def everyone(client, sandbox):
    """Signed in with every role, so every page opens."""
    client.force_login(make_user("ada", "Senders", "Inbox staff", "Number admins"))
    return client


@pytest.fixture
def counting_carrier():
    """A real listening socket standing in for the carrier: it accepts each connection, counts
    it and hangs up, so the portal gets no answer and every attempt is on record."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.settimeout(0.1)
    accepted: list[float] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            accepted.append(time.monotonic())
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/core/v2", accepted
    stop.set()
    thread.join(timeout=2)
    server.close()


def queued_periodic() -> DBTaskResult:
    return DBTaskResult.objects.get(task_path=PERIODIC, status="READY")


def test_with_the_carrier_unreachable_every_page_answers_at_once_saying_how_old_its_copy_is(
    everyone, settings, silent_server
):
    numbers_sync()
    settings.CARRIERX_API_URL = closed_port_url()
    numbers_sync_periodic.enqueue()
    run_tasks()
    # Now a carrier that takes connections and never answers: a page that called it would wait
    # out the client's timeouts (5 s to connect, 20 s to read).
    settings.CARRIERX_API_URL = silent_server
    settings.CARRIERX_TIMEOUT = (5.0, 20.0)

    status = SyncStatus.objects.get()
    for url in portal_pages():
        started = time.monotonic()
        response = everyone.get(url)
        elapsed = time.monotonic() - started

        page = response.content.decode()
        assert response.status_code == 200, url
        # Well under the 20 s read timeout, with room for a loaded two-core machine.
        assert elapsed < 10.0, (url, elapsed)
        assert "Numbers and callbacks read from CarrierX" in page, url
        assert f'datetime="{status.last_success_at.isoformat()}"' in page, url
        assert UNREACHABLE_NOTE in page, url
        assert "CarrierX is unreachable (could not connect)" in page, url
    assert SyncStatus.objects.get().attempts == status.attempts


def test_a_failed_sync_is_recorded_with_when_and_the_carriers_reason(sandbox, settings):
    numbers_sync()
    settings.CARRIERX_API_URL = closed_port_url()
    before = timezone.now()

    numbers_sync_periodic.enqueue()
    run_tasks()

    status = SyncStatus.objects.get()
    assert status.last_attempt_at >= before
    assert status.last_success_at < before
    assert status.last_error == "CarrierX is unreachable (could not connect)"
    assert status.failures == 1
    assert status.attempts == 2
    assert Did.objects.count() == 12  # the cache keeps what it last read


def test_page_loads_make_no_attempt_on_the_carrier(everyone, settings, counting_carrier):
    numbers_sync()
    url, accepted = counting_carrier
    settings.CARRIERX_API_URL = url
    numbers_sync_periodic.enqueue()
    run_tasks()
    assert len(accepted) >= 1  # the task did try, and the socket saw it
    tried = len(accepted)
    attempts = SyncStatus.objects.get().attempts

    for page in portal_pages() * 2:
        assert everyone.get(page).status_code == 200

    assert len(accepted) == tried
    assert SyncStatus.objects.get().attempts == attempts


def test_a_fresh_install_with_the_carrier_down_says_never_read_and_why(client, db, settings):
    settings.CARRIERX_API_URL = closed_port_url()
    client.force_login(make_user("sam", "Senders"))

    with pytest.raises(CommandError, match="CarrierX is unreachable"):
        call_command("numbers_sync")

    page = client.get(reverse("messaging:send")).content.decode()
    assert "Numbers and callbacks never read from CarrierX yet." in page
    assert UNREACHABLE_NOTE in page
    assert SyncStatus.objects.get().attempts == 1


def test_a_failed_sync_is_retried_soon_on_the_tasks_schedule_then_every_few_minutes(
    sandbox, settings
):
    settings.NUMBERS_SYNC_MINUTES = 5
    settings.NUMBERS_SYNC_RETRY_SECONDS = 10
    sandbox_url = settings.CARRIERX_API_URL
    settings.CARRIERX_API_URL = closed_port_url()

    call_command("numbers_sync", schedule=True)
    run_tasks()

    retry = queued_periodic().run_after - timezone.now()
    assert timedelta(seconds=5) < retry <= timedelta(seconds=10)
    assert not Did.objects.exists()

    # The carrier is back; the retry comes due and reads everything.
    settings.CARRIERX_API_URL = sandbox_url
    DBTaskResult.objects.filter(task_path=PERIODIC).update(run_after=timezone.now())
    run_tasks()

    assert Did.objects.count() == 12
    status = SyncStatus.objects.get()
    assert (status.last_error, status.failures) == ("", 0)
    following = queued_periodic().run_after - timezone.now()
    assert timedelta(minutes=4) < following <= timedelta(minutes=5)
    assert DBTaskResult.objects.filter(task_path=PERIODIC, status="READY").count() == 1


def test_scheduling_again_brings_the_queued_read_forward_instead_of_doubling_it(db):
    call_command("numbers_sync", schedule=True)
    DBTaskResult.objects.filter(task_path=PERIODIC).update(
        run_after=timezone.now() + timedelta(minutes=5)
    )

    call_command("numbers_sync", schedule=True)

    waiting = queued_periodic()
    assert waiting.run_after <= timezone.now()


def test_a_change_made_in_the_portal_queues_a_re_read(sandbox, admin_client_):
    numbers_sync()
    did = Did.objects.get(phonenumber=MAIN_LINE)

    admin_client_.post(
        reverse("numbers:did_callback", args=[did.did_sid]),
        {"callback_url": "https://hooks.example.com/sms"},
    )

    assert DBTaskResult.objects.filter(
        task_path="phone_numbers.tasks.numbers_sync_task", status="READY"
    ).exists()
    attempts = SyncStatus.objects.get().attempts
    run_tasks()
    assert SyncStatus.objects.get().attempts == attempts + 1


def test_a_re_read_after_a_change_restarts_a_lost_periodic_chain(sandbox, admin_client_):
    numbers_sync()
    assert not DBTaskResult.objects.filter(task_path=PERIODIC).exists()
    did = Did.objects.get(phonenumber=MAIN_LINE)

    admin_client_.post(
        reverse("numbers:did_callback", args=[did.did_sid]),
        {"callback_url": "https://hooks.example.com/sms"},
    )
    run_tasks()

    assert queued_periodic().run_after > timezone.now() + timedelta(minutes=4)
