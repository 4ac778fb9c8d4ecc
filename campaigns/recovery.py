"""After a dispatcher died (SIGKILL, a lost machine): what it claimed and never released goes
back, and what it posted without hearing back goes to reconciliation by `user_data`."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from campaigns.dispatch import RELEASE_AHEAD
from campaigns.models import Recipient
from messaging import tasks as messaging_tasks
from messaging.models import Message, Status


def claims_recover(campaign_id: int) -> int:
    """Give back what a dead dispatcher claimed and never released (no message was written)."""
    stale = timezone.now() - timedelta(seconds=settings.CAMPAIGN_CLAIM_LEASE_SECONDS)
    return Recipient.objects.filter(
        campaign_id=campaign_id,
        state=Recipient.State.CLAIMED,
        message__isnull=True,
        claimed_at__lt=stale,
    ).update(state=Recipient.State.PENDING, claim="")


def unanswered(campaign_id: int) -> list[tuple[int, datetime]]:
    """The campaign's messages posted to the carrier with no answer recorded (id, last change),
    oldest first: in flight on a live dispatcher, or left so by a dead one. A retry waiting in a
    send task is neither."""
    posted = list(
        Message.objects.filter(
            campaign_recipient__campaign_id=campaign_id,
            status=Status.SENDING,
            message_sid__isnull=True,
            send_attempts__gte=1,
        )
        .order_by("updated_at")
        .values_list("pk", "updated_at")
    )
    if not posted:
        return []
    retrying = set(
        DBTaskResult.objects.filter(
            task_path=messaging_tasks.send_message_task.module_path,
            status__in=["READY", "RUNNING"],
            args_kwargs__args__0__in=[pk for pk, _ in posted],
        ).values_list("args_kwargs__args__0", flat=True)
    )
    return [(pk, at) for pk, at in posted if pk not in retrying]


def answer_due_by() -> timedelta:
    """How long after its release a live dispatcher has surely recorded a send's answer: the
    wait for its slot, the carrier client's timeouts, and a lease's worth for the dispatcher to
    get to it."""
    return RELEASE_AHEAD + timedelta(
        seconds=sum(settings.CARRIERX_TIMEOUT) + settings.CAMPAIGN_CLAIM_LEASE_SECONDS
    )


def unanswered_recover(campaign_id: int) -> int:
    """Hand to reconciliation what a dead dispatcher posted and never heard back about: the
    carrier may or may not have it, so it is asked by `user_data` (adopted, or sent once more only
    when it provably has none), as after a timeout. Without this, such a recipient would wait
    for the stuck-message check (RECONCILE_STUCK_MINUTES)."""
    now = timezone.now()
    stale = [pk for pk, at in unanswered(campaign_id) if at < now - answer_due_by()]
    handed = 0
    for pk in stale:
        if Message.objects.filter(pk=pk, status=Status.SENDING, message_sid__isnull=True).update(
            status=Status.UNKNOWN,
            error="The campaign's sender stopped while sending this message; "
            "checking with CarrierX.",
            updated_at=now,
        ):
            messaging_tasks.reconcile_message_task.enqueue(pk, 1)
            handed += 1
    return handed
