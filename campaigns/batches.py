"""A dispatcher's writes, each for many recipients at once: claim a DID's next recipients,
release a batch (messages written, recipients marked, before any carrier call), record a pass's
answers with the send path's rules."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from campaigns import pacing
from campaigns.models import Campaign, Recipient
from messaging.models import Conversation, Direction, Kind, Message, OptOut, Status
from messaging.services import carrier_events, outbound
from messaging.services.carrier_health import carrier_health_record
from messaging.text_templates import render
from messaging.validation import MAX_SID, bounded_text, lenient
from portal.carrierx import CarrierXError

if TYPE_CHECKING:
    from campaigns.dispatch import Lane


def claim(campaign: Campaign, lane: Lane, count: int) -> list[Recipient]:
    now = timezone.now()
    token = uuid.uuid4().hex
    waiting = (
        Recipient.objects.filter(
            campaign_id=campaign.pk, our_number=lane.our_number, state=Recipient.State.PENDING
        )
        .filter(Q(not_before__isnull=True) | Q(not_before__lte=now))
        .order_by("id")
        .values("id")[:count]
    )
    # The state test on the outer UPDATE is re-checked under the row lock on PostgreSQL, and
    # SQLite runs one writer at a time: a row another dispatcher took meanwhile is skipped.
    Recipient.objects.filter(pk__in=waiting, state=Recipient.State.PENDING).update(
        state=Recipient.State.CLAIMED, claim=token, claimed_at=now
    )
    claimed = list(Recipient.objects.filter(claim=token, state=Recipient.State.CLAIMED))
    return _set_aside(campaign, claimed, now)


def _set_aside(campaign: Campaign, claimed: list[Recipient], now: datetime) -> list[Recipient]:
    """Drop from `claimed` who opted out of their DID since the list was read, and hold back who
    is in their quiet hours."""
    if not claimed:
        return claimed
    opted = set(
        OptOut.objects.filter(
            customer_number__in=[r.number for r in claimed], opted_out=True
        ).values_list("customer_number", "our_number")
    )
    stopped = [r.pk for r in claimed if (r.number, r.our_number) in opted]
    if stopped:
        Recipient.objects.filter(pk__in=stopped, state=Recipient.State.CLAIMED).update(
            state=Recipient.State.OPTED_OUT, claim=""
        )
    ready = []
    for r in claimed:
        if r.pk in stopped:
            continue
        if campaign.quiet_start is not None and campaign.quiet_end is not None:
            wait = pacing.quiet_until(
                r.number, start=campaign.quiet_start, end=campaign.quiet_end, now=now
            )
            if wait is not None:
                Recipient.objects.filter(pk=r.pk, state=Recipient.State.CLAIMED).update(
                    state=Recipient.State.PENDING, claim="", not_before=wait
                )
                continue
        ready.append(r)
    return ready


class CampaignStopped(Exception):
    """Paused or cancelled since this dispatcher last looked: release nothing more."""


def release(campaign: Campaign, batch: list[tuple[Recipient, Lane]]) -> list[Message]:
    """Write the messages of `batch`'s recipients and mark them sent, in one transaction that
    commits before any of them is handed to the carrier. A recipient another dispatcher took back
    meanwhile, or who texted STOP since the claim, gets nothing (nothing written, nothing sent).
    Raises CampaignStopped, writing nothing, once the campaign is paused or cancelled: a pause
    stops the next release, not the next read of the state.

    A batch costs a fixed few statements (one UPDATE marks them all, one INSERT writes all their
    messages, one UPDATE links them) plus each message's conversation upsert: a statement per
    recipient each was most of a dispatcher's time on PostgreSQL (bench/RESULTS.md, run I)."""
    lanes = {recipient.pk: lane for recipient, lane in batch}
    with transaction.atomic():
        if not Campaign.objects.filter(pk=campaign.pk, state=Campaign.State.RUNNING).exists():
            raise CampaignStopped
        opted = set(
            OptOut.objects.filter(
                customer_number__in={r.number for r, _ in batch}, opted_out=True
            ).values_list("customer_number", "our_number")
        )
        stopped = [r for r, lane in batch if (r.number, lane.our_number) in opted]
        going = [r for r, lane in batch if (r.number, lane.our_number) not in opted]
        if stopped:
            _ours(stopped).update(state=Recipient.State.OPTED_OUT, claim="")
        if not going:
            return []
        # Still ours, now messaged: read after the UPDATE, which holds their rows (PostgreSQL's
        # row locks, SQLite's one writer), so a row taken back meanwhile is neither marked nor read.
        _ours(going).update(state=Recipient.State.MESSAGED)
        marked = set(
            _ours(going, state=Recipient.State.MESSAGED)
            .filter(message__isnull=True)
            .values_list("pk", flat=True)
        )
        going = [r for r in going if r.pk in marked]
        messages = Message.objects.bulk_create(
            [
                Message(
                    direction=Direction.OUTBOUND,
                    our_number=lanes[r.pk].our_number,
                    their_number=r.number,
                    body=render(campaign.body, r.variables),
                    kind=Kind.SMS,
                    status=Status.SENDING,
                    send_attempts=0 if lanes[r.pk].refusal else 1,
                    sent_by_id=campaign.created_by_id,
                )
                for r in going
            ]
        )
        for recipient, message in zip(going, messages, strict=True):
            recipient.message = message
        if going:
            Recipient.objects.bulk_update(going, ["message", "slot_at"])
        for message in messages:
            carrier_events.conversation_add_message(message, opens=False)
    return messages


def _ours(recipients: list[Recipient], state: str = Recipient.State.CLAIMED):
    """`recipients` still held under the claims this dispatcher read them with."""
    return Recipient.objects.filter(
        pk__in=[r.pk for r in recipients], claim__in={r.claim for r in recipients}, state=state
    )


# What adopting the carrier's answer changes on our row (carrier_events.message_update_from_sms).
ADOPTED_FIELDS = [
    "message_sid",
    "status",
    "status_changed_at",
    "segments",
    "price",
    "mcc",
    "mnc",
    "updated_at",
]


def _sid(sms: dict) -> str:
    """The answer's SID as message_adopt_sid stores it."""
    return lenient(lambda v: bounded_text(v, limit=MAX_SID), sms.get("message_sid")) or ""


def record(answers: list[tuple[Message, dict | None, CarrierXError | None]]) -> None:
    """Store a pass's answers with the send path's rules (outbound.send_outcome_record), the
    accepted ones together: the carrier's health once, their rows re-read under lock in one
    SELECT, their SIDs and statuses in one UPDATE, their conversations touched in one. An answer
    whose SID a status callback already filed on a row of its own (or with no SID) takes the
    per-message path, which folds that row in."""
    accepted: dict[int, tuple[str, dict]] = {}
    seen: set[str] = set()  # a SID answered twice would break its unique column in one UPDATE
    one_by_one = []
    for message, sms, err in answers:
        sid = "" if err else _sid(sms)
        if sid and sid not in seen:
            seen.add(sid)
            accepted[message.pk] = (sid, sms)
        else:
            one_by_one.append((message, sms, err))
    if accepted:
        early = set(
            Message.objects.filter(message_sid__in=[sid for sid, _ in accepted.values()])
            .exclude(pk__in=accepted)
            .values_list("message_sid", flat=True)
        )
        for message, sms, err in answers:
            if message.pk in accepted and accepted[message.pk][0] in early:
                del accepted[message.pk]
                one_by_one.append((message, sms, err))
    if accepted:
        carrier_health_record(ok=True)
        rows = list(Message.objects.select_for_update().filter(pk__in=accepted).order_by("pk"))
        now = timezone.now()
        for row in rows:
            sid, sms = accepted[row.pk]
            row.message_sid = sid
            carrier_events.message_update_from_sms(row, sms)
            row.updated_at = now
        Message.objects.bulk_update(rows, ADOPTED_FIELDS)
        Conversation.objects.filter(customer_number__in={r.their_number for r in rows}).update(
            updated_at=now
        )
    for message, sms, err in one_by_one:
        outbound.send_outcome_record(message, sms=sms, err=err)
