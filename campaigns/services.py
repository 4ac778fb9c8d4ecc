"""What people do to a campaign (start, pause, resume, cancel) and the dispatcher's task run."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Min, Q
from django.utils import timezone

from campaigns import tasks
from campaigns.dispatch import (
    Dispatcher,
    answer_due_by,
    claims_recover,
    unanswered,
    unanswered_recover,
)
from campaigns.models import Campaign, ListRead, Recipient
from campaigns.recipients import RecipientList, recipients_prepare

State = Campaign.State


def _dispatchers_enqueue(campaign: Campaign, *, at=None) -> None:
    task = tasks.campaign_dispatch_task.using(run_after=at) if at else tasks.campaign_dispatch_task
    for lane in range(settings.CAMPAIGN_DISPATCHERS):
        task.enqueue(campaign.pk, lane)


def campaign_draft_save(campaign: Campaign, people: RecipientList) -> dict[str, int]:
    """Save a draft (new or edited) and read its list into recipients, together: a draft never
    exists without the recipients its preview counts. Returns recipients_prepare's counts."""
    with transaction.atomic():
        campaign.save()
        return recipients_prepare(campaign, people)


def campaign_draft_delete(campaign: Campaign) -> bool:
    """Delete a draft with its recipients and the lists still waiting to be read for it (their
    files too: a read not yet begun would never come back to delete its file); a campaign that
    started is cancelled, never deleted."""
    files = list(
        ListRead.objects.filter(campaign=campaign).exclude(file="").values_list("file", flat=True)
    )
    with transaction.atomic():
        deleted, _ = Campaign.objects.filter(pk=campaign.pk, state=State.DRAFT).delete()
        if deleted:
            # A read under way has its bytes already, and fails at its draft check.
            transaction.on_commit(lambda: _files_delete(files))
    return bool(deleted)


def _files_delete(names: list[str]) -> None:
    for name in names:
        default_storage.delete(name)


def campaign_start(campaign: Campaign) -> Campaign:
    """Start a previewed campaign: now, or at its `start_at` when that is still ahead."""
    now = timezone.now()
    later = campaign.start_at is not None and campaign.start_at > now
    with transaction.atomic():
        updated = Campaign.objects.filter(pk=campaign.pk, state=State.DRAFT).update(
            state=State.SCHEDULED if later else State.RUNNING,
            started_at=None if later else now,
            updated_at=now,
        )
        if updated:
            _dispatchers_enqueue(campaign, at=campaign.start_at if later else None)
    campaign.refresh_from_db()
    return campaign


def campaign_pause(campaign: Campaign) -> bool:
    return bool(
        Campaign.objects.filter(pk=campaign.pk, state__in=[State.RUNNING, State.SCHEDULED]).update(
            state=State.PAUSED, updated_at=timezone.now()
        )
    )


def campaign_resume(campaign: Campaign) -> bool:
    with transaction.atomic():
        resumed = Campaign.objects.filter(pk=campaign.pk, state=State.PAUSED).update(
            state=State.RUNNING,
            started_at=campaign.started_at or timezone.now(),
            updated_at=timezone.now(),
        )
        if resumed:
            _dispatchers_enqueue(campaign)
    return bool(resumed)


def campaign_cancel(campaign: Campaign) -> int:
    """Cancel: nothing more is sent; every recipient still waiting is marked cancelled, claimed
    ones too (a claimed recipient has no message yet, and a dispatcher releases one only while
    the campaign runs; a dead dispatcher's claims would otherwise stay claimed for ever).
    Returns how many were cancelled."""
    with transaction.atomic():
        if not Campaign.objects.filter(
            pk=campaign.pk, state__in=[State.DRAFT, State.SCHEDULED, State.RUNNING, State.PAUSED]
        ).update(state=State.CANCELLED, finished_at=timezone.now(), updated_at=timezone.now()):
            return 0
        return campaign.recipients.filter(
            state__in=[Recipient.State.PENDING, Recipient.State.CLAIMED]
        ).update(state=Recipient.State.CANCELLED, claim="")


def campaign_dispatch(campaign_id: int, lane: int = 0) -> str:
    """One dispatcher run; queues the next while there is work, and finishes the campaign when
    nobody is left to text."""
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is None:
        return "no such campaign"
    now = timezone.now()
    if campaign.state == State.SCHEDULED:
        if campaign.start_at and campaign.start_at > now:
            # Started early by a duplicate task, or the time was moved: wait for it.
            tasks.campaign_dispatch_task.using(run_after=campaign.start_at).enqueue(
                campaign_id, lane
            )
            return "not yet"
        Campaign.objects.filter(pk=campaign_id, state=State.SCHEDULED).update(
            state=State.RUNNING, started_at=now, updated_at=now
        )
        campaign.refresh_from_db()
    if campaign.state != State.RUNNING:
        return f"campaign is {campaign.state}"
    claims_recover(campaign_id)
    unanswered_recover(campaign_id)
    sent = Dispatcher(campaign).run(settings.CAMPAIGN_TICK_SECONDS)
    return f"released {sent}; {_next(campaign, lane)}"


def _next(campaign: Campaign, lane: int) -> str:
    state = Campaign.objects.filter(pk=campaign.pk).values_list("state", flat=True).first()
    if state != State.RUNNING:
        return f"stopped ({state})"
    now = timezone.now()
    waiting = campaign.recipients.filter(state=Recipient.State.PENDING)
    if waiting.filter(Q(not_before__isnull=True) | Q(not_before__lte=now)).exists():
        tasks.campaign_dispatch_task.enqueue(campaign.pk, lane)
        return "more to send"
    held = waiting.aggregate(first=Min("not_before"))["first"]
    if held is not None:
        tasks.campaign_dispatch_task.using(run_after=held).enqueue(campaign.pk, lane)
        return f"quiet hours until {held:%Y-%m-%d %H:%M} UTC"
    if campaign.recipients.filter(state=Recipient.State.CLAIMED).exists():
        # Another dispatcher's, or a dead one's waiting for its lease: look again then.
        tasks.campaign_dispatch_task.using(
            run_after=now + timedelta(seconds=settings.CAMPAIGN_CLAIM_LEASE_SECONDS)
        ).enqueue(campaign.pk, lane)
        return "waiting for claimed recipients"
    posted = unanswered(campaign.pk)
    if posted:
        oldest = posted[0][1]
        # Posted, no answer yet: another dispatcher's in flight, or a dead one's, which the next
        # run hands to reconciliation once a live one would surely have answered.
        tasks.campaign_dispatch_task.using(
            run_after=max(now, oldest + answer_due_by()) + timedelta(seconds=1)
        ).enqueue(campaign.pk, lane)
        return "waiting for the carrier's answers"
    Campaign.objects.filter(pk=campaign.pk, state=State.RUNNING).update(
        state=State.FINISHED, finished_at=now, updated_at=now
    )
    return "finished"
