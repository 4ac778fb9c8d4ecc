"""Background entry points, run by the task worker (`manage.py db_worker`): each calls a service.

django-tasks records a task by its import path (`messaging.tasks.send_message_task`); the task
lease reaper (services/task_leases.py) names them so.
"""

from __future__ import annotations

from django_tasks import task

from messaging.models import Message
from messaging.services import auto_reply, inbound_media, outbound, task_leases
from portal.request_context import logged_task


def message_request_id(message_id: int, *args) -> str:
    """The request that created the message: a task about it logs under the same id, so a send
    can be followed from the click on Send to the worker and the carrier call."""
    return Message.objects.filter(pk=message_id).values_list("request_id", flat=True).first() or ""


@task()
@logged_task(message_request_id)
def send_message_task(message_id: int) -> str:
    return outbound.message_send_attempt(message_id=message_id)


@task()
@logged_task(message_request_id)
def reconcile_message_task(message_id: int, round_: int) -> str:
    return outbound.message_reconcile(message_id=message_id, round_=round_)


@task()
@logged_task()
def reconcile_stuck_task(reschedule: bool = True) -> str:
    # First the tasks a dead worker left RUNNING: a send among them hands its message to
    # reconciliation, which the stuck check then finds.
    task_leases.abandoned_tasks_recover()
    return outbound.messages_reconcile_stuck(reschedule=reschedule)


@task()
@logged_task(message_request_id)
def auto_reply_task(message_id: int) -> str:
    return auto_reply.auto_reply_send(message_id=message_id)


@task()
@logged_task(message_request_id)
def download_media_task(message_id: int) -> str:
    return inbound_media.media_download(message_id=message_id)
