"""`/healthz`: 200 when the deployment can do its job, 503 naming the check that fails."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from messaging import tasks
from ops.management.commands.task_worker import beat
from ops.models import WorkerHeartbeat

ROOT = Path(__file__).resolve().parent.parent


def health(client) -> tuple[int, dict]:
    response = client.get("/healthz")
    assert response["Content-Type"] == "application/json"
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
    return response.status_code, response.json()


@pytest.fixture
def worker_alive(db):
    beat("worker-a", timezone.now())


def test_a_healthy_deployment_answers_200_with_every_check_ok_and_no_sign_in(client, worker_alive):
    status, body = health(client)
    assert status == 200
    assert body["status"] == "ok" and body["failing"] == []
    assert body["database"]["ok"] and body["migrations"] == {"ok": True, "pending": 0}
    assert body["worker"]["ok"] and body["worker"]["workers_alive"] == 1
    assert body["worker"]["heartbeat_age_seconds"] < 5
    assert body["queue"] == {"ok": True, "depth": 0, "oldest_age_seconds": None}


def test_the_body_holds_no_secret(client, worker_alive):
    text = client.get("/healthz").content.decode()
    assert settings.CARRIERX_WEBHOOK_SECRET not in text
    assert settings.CARRIERX_TOKEN not in text
    assert settings.SECRET_KEY not in text


def test_no_worker_heartbeat_at_all_is_503_naming_the_worker(client, db):
    status, body = health(client)
    assert status == 503
    assert body["failing"] == ["worker"]
    assert body["worker"] == {"ok": False, "heartbeat_age_seconds": None, "workers_alive": 0}


def test_a_stale_worker_heartbeat_is_503_naming_the_worker(client, worker_alive, settings):
    WorkerHeartbeat.objects.update(last_seen_at=timezone.now() - timedelta(seconds=90))
    settings.HEALTH_WORKER_STALE_SECONDS = 60
    status, body = health(client)
    assert status == 503 and body["failing"] == ["worker"]
    assert 89 <= body["worker"]["heartbeat_age_seconds"] <= 95
    assert body["worker"]["workers_alive"] == 0


def test_one_live_worker_among_dead_ones_is_enough(client, worker_alive):
    beat("worker-dead", timezone.now() - timedelta(hours=1))
    WorkerHeartbeat.objects.filter(worker_id="worker-dead").update(
        last_seen_at=timezone.now() - timedelta(hours=1)
    )
    status, body = health(client)
    assert status == 200 and body["worker"]["workers_alive"] == 1


def test_a_task_waiting_too_long_is_503_naming_the_queue(client, worker_alive, settings):
    settings.HEALTH_QUEUE_MAX_AGE_SECONDS = 300
    tasks.auto_reply_task.enqueue(1)
    DBTaskResult.objects.update(enqueued_at=timezone.now() - timedelta(seconds=600))
    status, body = health(client)
    assert status == 503 and body["failing"] == ["queue"]
    assert body["queue"]["depth"] == 1
    assert 599 <= body["queue"]["oldest_age_seconds"] <= 605


def test_a_task_queued_for_later_waits_only_from_its_time(client, worker_alive, settings):
    settings.HEALTH_QUEUE_MAX_AGE_SECONDS = 300
    # Queued an hour ago to run a minute ago: it has waited a minute, not an hour.
    tasks.auto_reply_task.using(run_after=timezone.now() - timedelta(seconds=60)).enqueue(1)
    DBTaskResult.objects.update(enqueued_at=timezone.now() - timedelta(hours=1))
    # And one not due yet does not count at all.
    tasks.auto_reply_task.using(run_after=timezone.now() + timedelta(hours=1)).enqueue(2)
    status, body = health(client)
    assert status == 200
    assert body["queue"]["depth"] == 1
    assert 59 <= body["queue"]["oldest_age_seconds"] <= 65


def test_a_deep_queue_is_503_naming_the_queue(client, worker_alive, settings):
    settings.HEALTH_QUEUE_MAX_DEPTH = 3
    for message_id in range(4):
        tasks.auto_reply_task.enqueue(message_id)
    status, body = health(client)
    assert status == 503 and body["failing"] == ["queue"] and body["queue"]["depth"] == 4


def test_carrier_and_number_sync_are_reported_but_never_fail_the_check(client, worker_alive):
    from messaging.services.carrier_health import carrier_health_record

    for _ in range(10):
        carrier_health_record(ok=False, error="down")
    status, body = health(client)
    assert status == 200
    assert body["carrier"] == {"last_success_age_seconds": None, "consecutive_failures": 10}
    assert body["number_sync"] == {"last_success_age_seconds": None, "failures": 0}


def test_an_unreachable_database_is_503_naming_the_database():
    """A real process whose database does not answer (a closed port), asked over Django's test
    client: the check fails fast and says which."""
    script = (
        "import django, json; django.setup();"
        "from django.test import Client;"
        "r = Client().get('/healthz', HTTP_HOST='127.0.0.1');"
        "print(json.dumps({'status': r.status_code, 'body': r.json()}))"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "PORTAL_IGNORE_DOTENV": "1",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:1/nowhere",
        "DEBUG": "1",
        "CARRIERX_SANDBOX": "1",
        "ALLOWED_HOSTS": "127.0.0.1",
    }
    env.pop("CARRIERX_TOKEN", None)
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer["status"] == 503
    assert answer["body"]["failing"] == ["database"]
    assert answer["body"]["database"] == {"ok": False, "error": "OperationalError"}


@pytest.mark.django_db(transaction=True)
def test_the_task_worker_command_writes_its_heartbeat(client, tmp_path):
    """`manage.py task_worker` (what runportal, the Procfile and the systemd unit start) beats
    as soon as it starts; `--batch` makes it exit once the queue is empty."""
    db = connection.settings_dict
    url = (
        f"sqlite:///{db['NAME']}"
        if db["ENGINE"].endswith("sqlite3")
        else f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    )
    env = {**os.environ, "DATABASE_URL": url, "PORTAL_IGNORE_DOTENV": "1", "DEBUG": "1"}
    done = subprocess.run(
        [sys.executable, "manage.py", "task_worker", "--batch", "--worker-id", "beat-test"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    row = WorkerHeartbeat.objects.get(worker_id="beat-test")
    assert (timezone.now() - row.last_seen_at).total_seconds() < 60
    status, body = health(client)
    assert status == 200 and body["worker"]["workers_alive"] == 1
