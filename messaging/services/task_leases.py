"""Tasks left RUNNING by a worker that died.

django-tasks-db marks a task RUNNING when a worker claims it (with `started_at` and the worker's id
appended to `worker_ids`), and only that worker ever moves it on. A worker killed mid-task
(SIGKILL, out of memory, a lost machine) leaves it RUNNING for ever. django-tasks-db 0.13 records
no worker heartbeat, so a task counts as abandoned when

- its worker is known to be gone (runportal saw the worker it supervises exit), or
- it has been RUNNING for longer than TASK_LEASE_SECONDS. Our tasks are short: a send is bounded by
  the carrier client's timeouts (25 s by default), a sandbox callback by 15 s. A live worker never
  holds one for anything near the lease (300 s by default); a setting that made tasks longer
  would need a longer lease.

What becomes of an abandoned task depends on whether running it again is safe (see REQUEUE). A
send is never run again as it stands: the worker may have died after the carrier took the message,
so the message goes through reconciliation instead, which adopts the carrier's copy or sends once
more only when the carrier provably has none.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from messaging import tasks
from messaging.models import Message, Status

logger = logging.getLogger(__name__)

# Task paths as django-tasks records them (module and function of each `@task`), as strings: this
# module is imported by messaging.tasks, and other apps' and the sandbox's are not imported at all.
SEND = "messaging.tasks.send_message_task"
# Periodic chains: each run queues the next at its end, so a run killed midway ends the chain.
PERIODIC = {
    "messaging.tasks.reconcile_stuck_task",
    "messaging.tasks.detail_records_sync_periodic",
    "phone_numbers.tasks.numbers_sync_periodic",
    "dashboard.tasks.dashboard_rollup_periodic",
}
# Safe to run again, because each checks the state it would change before changing it.
REQUEUE = {
    # Reads the carrier and adopts its SID; resends only by moving `unknown` to `sending`, once.
    "messaging.tasks.reconcile_message_task",
    # The reply's unique key (`auto_reply_to`) stops a second reply.
    "messaging.tasks.auto_reply_task",
    # Moves a message on only from the status it names; a repeated callback is a duplicate the
    # webhook stores and ignores.
    "sandbox.tasks.advance_message",
    "sandbox.tasks.deliver_inbound",
    # Moves its message from scheduled to sending only while it is still scheduled; once it is
    # sending, a rerun does nothing and the stuck check finishes the send.
    "messaging.tasks.send_scheduled_task",
    # Downloads only files still pending; a stored file is never fetched again.
    "messaging.tasks.download_media_task",
    # Reads the carrier into the DID cache.
    "phone_numbers.tasks.numbers_sync_task",
    # Reads the carrier's lookup of a number into its cache row.
    "messaging.tasks.number_lookup_task",
    # Claims only waiting recipients and writes each message before calling the carrier; what a
    # dead dispatcher claimed comes back after its lease (campaigns/dispatch.py).
    "campaigns.tasks.campaign_dispatch_task",
    # Leaves a finished import alone; one that died midway wrote nothing (its writes and its
    # "done" share one transaction), so it is read again from the start.
    "contacts.tasks.contact_import_task",
    # The same for a campaign's long recipient list (campaigns/lists.py).
    "campaigns.tasks.campaign_list_read_task",
}
# A task that was running each time its worker died is more likely killing workers than unlucky.
MAX_CLAIMS = 3


class WorkerLost(Exception):
    """Recorded on a task whose worker died while running it."""


def abandoned_tasks_recover(*, dead_workers: Collection[str] = ()) -> list[str]:
    """Requeue or fail every task abandoned by its worker; one line per task, saying which."""
    stale = timezone.now() - timedelta(seconds=settings.TASK_LEASE_SECONDS)
    running = DBTaskResult.objects.filter(status="RUNNING").order_by("started_at")
    done = []
    for result in running:
        worker = result.worker_ids[-1] if result.worker_ids else ""
        if worker in dead_workers or (result.started_at and result.started_at < stale):
            outcome = _recover(result, worker)
            if outcome:
                line = f"{result.task_path} {result.id} (worker {worker or '?'}): {outcome}"
                logger.warning("abandoned task %s", line)
                done.append(line)
    return done


@transaction.atomic
def _recover(result: DBTaskResult, worker: str) -> str | None:
    # Each change is conditional on the row still being RUNNING, so a worker that finishes the
    # task meanwhile (a slow one, not a dead one) keeps its own outcome.
    running = DBTaskResult.objects.filter(pk=result.pk, status="RUNNING")
    if result.task_path in PERIODIC:
        # Run it again, unless a new one waits already (queued by `reconcile_messages --schedule`
        # or `numbers_sync --schedule`): one chain, not two.
        requeue = not DBTaskResult.objects.filter(
            task_path=result.task_path, status="READY"
        ).exists()
    else:
        requeue = result.task_path in REQUEUE
    if requeue and len(result.worker_ids) < MAX_CLAIMS:
        return "requeued" if running.update(status="READY") else None
    if not running.update(
        status="FAILED",
        finished_at=timezone.now(),
        return_value=None,
        exception_class_path=f"{WorkerLost.__module__}.{WorkerLost.__qualname__}",
        traceback=f"{WorkerLost.__qualname__}: worker {worker or '?'} stopped while running "
        f"this task (claimed {len(result.worker_ids)} time(s)); not run again.\n",
    ):
        return None
    if result.task_path == SEND:
        return "failed; " + _send_abandoned(result)
    return "failed"


def _send_abandoned(result: DBTaskResult) -> str:
    args, kwargs = result.args_kwargs.get("args", []), result.args_kwargs.get("kwargs", {})
    message_id = args[0] if args else kwargs.get("message_id")
    message = Message.objects.filter(pk=message_id).first()
    if message is None:
        return f"message {message_id} is gone"
    if message.status != Status.SENDING or message.message_sid:
        return f"message {message_id} was already {message.status}"
    if message.send_attempts == 0:
        # The attempt is counted before the POST, so none was made: sending now is safe.
        tasks.send_message_task.enqueue(message_id)
        return f"message {message_id} was never posted; sending it"
    Message.objects.filter(pk=message_id, status=Status.SENDING).update(
        status=Status.UNKNOWN,
        error="The task worker stopped while sending this message; checking with CarrierX.",
        updated_at=timezone.now(),
    )
    # The POST may still be on its way through the carrier: ask only once it would have answered
    # (our read timeout), plus the usual wait, as after a timeout.
    answered_by = result.started_at + timedelta(seconds=sum(settings.CARRIERX_TIMEOUT))
    delay = settings.SEND_RECONCILE_DELAY_SECONDS + max(
        0.0, (answered_by - timezone.now()).total_seconds()
    )
    run_after = timezone.now() + timedelta(seconds=delay)
    tasks.reconcile_message_task.using(run_after=run_after).enqueue(message_id, 1)
    return f"message {message_id} is unknown; reconciling in {delay:.0f} s"
