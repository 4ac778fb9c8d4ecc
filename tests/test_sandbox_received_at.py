"""The sandbox keeps when each send reached it, before any injected latency (what a carrier's rate
limiter sees; bench/bench_campaign.py counts each DID's sends per second from it), and can run
its status steps on a task queue of its own, apart from the portal's workers."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from sandbox.faults import faults_update
from sandbox.models import SandboxMessage
from sandbox.seed import seed

pytestmark = pytest.mark.django_db(transaction=True)

MAIN_LINE = "15162065575"


@pytest.fixture
def send(client, settings):
    seed(sms_callback_url="https://portal.example.com/webhooks/carrierx/secret/")

    def call(to: str = "15162065574"):
        answer = client.post(
            reverse("sandbox:sms_messages"),
            data=json.dumps({"from": MAIN_LINE, "to": to, "message": "hello"}),
            content_type="application/json",
            HTTP_AUTHORIZATION="Bearer " + settings.CARRIERX_TOKEN,
        )
        assert answer.status_code == 200, answer.content
        return SandboxMessage.objects.get(message_sid=answer.json()["message_sid"])

    return call


def test_a_send_is_stamped_when_it_arrived_before_the_latency_it_waited(send):
    faults_update({"latency_seconds": 0.2})
    message = send()
    assert message.received_at is not None
    assert message.date_created - message.received_at >= timedelta(seconds=0.2)


def test_without_latency_a_send_is_stamped_at_arrival_too(send):
    message = send()
    assert message.received_at is not None
    assert message.received_at <= message.date_created


def test_the_status_steps_go_on_the_sandbox_queue_when_one_is_set(send, settings):
    settings.TASKS = {
        "default": {
            "BACKEND": "django_tasks_db.DatabaseBackend",
            "QUEUES": ["default", "sandbox"],
        }
    }
    settings.SANDBOX_TASK_QUEUE = "sandbox"
    message = send()
    steps = DBTaskResult.objects.filter(task_path__endswith="advance_message")
    assert list(steps.values_list("queue_name", flat=True)) == ["sandbox"]
    assert message.message_sid in steps.get().args_kwargs["args"]


def test_the_status_steps_go_on_the_default_queue_otherwise(send):
    send()
    steps = DBTaskResult.objects.filter(task_path__endswith="advance_message")
    assert list(steps.values_list("queue_name", flat=True)) == ["default"]
