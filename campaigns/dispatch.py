"""Sending a campaign: each DID at its pace, many carrier calls at once, crash-safe.

One dispatcher is one task run (at most CAMPAIGN_TICK_SECONDS; it queues its successor). It keeps
one database connection, on its own thread, and a pool of threads that only make carrier calls:

1. *Claim*, about a second ahead, as many waiting recipients of each DID as that DID's pace allows
   (one UPDATE: two dispatchers never claim the same row), and take that many send times from the
   DID's pace row (campaigns/pacing.py). Recipients who texted STOP meanwhile are set aside here;
   ones in their quiet hours wait for their morning.
2. *Release* each just before its time (RELEASE_LEAD): write its Message (status `sending`, one
   attempt counted) and mark the recipient sent in one transaction — before the carrier is
   called, as every send does here — then hand the call to the thread pool, whose thread waits
   for the slot itself. Only close to its slot (within half the pace margin): a release or a call
   that missed it (a stalled worker, a busy machine) takes a new slot at the end of the DID's pace
   instead of crowding the next ones, which may be another dispatcher's; nor does this dispatcher
   let a DID's releases come closer than their slots after a late one (`Lane.held_for`).
3. *Record* each answer on this thread with the send path's own rules (messaging/services/
   outbound.py): the SID adopted, a retry queued, or reconciliation after a timeout. The answers
   that have come are recorded together, the plain adoptions in a few statements for all.

A dispatcher that dies (SIGKILL, a lost machine) leaves recipients claimed but unreleased, which
the next dispatcher gives back after CAMPAIGN_CLAIM_LEASE_SECONDS (nothing was sent: the message
row comes first), and messages written but unanswered, which the next dispatcher hands to
reconciliation by `user_data` once a live one would surely have had its answer (adopted, or sent
once more only if the carrier provably has none; `unanswered_recover`). Pause and Cancel stop the
next release (each checks, in its transaction, that the campaign still runs): claimed recipients
not yet released go back (or are cancelled) and nothing more is released.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import time
import uuid
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

import requests
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from campaigns import pacing
from campaigns.models import Campaign, Recipient
from messaging import tasks as messaging_tasks
from messaging.models import Conversation, Direction, Kind, Message, OptOut, Status
from messaging.services import carrier_events, outbound
from messaging.services.carrier_health import carrier_health_record
from messaging.text_templates import render
from messaging.validation import MAX_SID, bounded_text, lenient
from phone_numbers.selectors import send_refusal
from portal.carrierx import CarrierXClient, CarrierXError
from portal.inserts import update_rows

logger = logging.getLogger(__name__)

LOOKAHEAD = timedelta(seconds=1)
# A DID's claim is topped up to LOOKAHEAD only once less than this is left ahead: a claim and
# its slots cost about seven statements however many recipients they take, and topping up on
# every pass (every few tens of ms) claimed one recipient at a time.
REFILL_BELOW = LOOKAHEAD / 2
STATE_EVERY = 0.5  # seconds between reads of the campaign's state (Pause within one second)
IDLE_SLEEP = 0.05
# A send is released (its message written: a few statements, whose time varies with the
# database's load) this much before its slot, and its pool thread waits for the slot itself, so
# the carrier sees the slots' spacing rather than the database's. Released at the slot, calls
# began 3-130 ms after it on a loaded 2-core machine, and 11 calls of one DID in a row could
# span under a second (bench/RESULTS.md, run AC).
RELEASE_LEAD = timedelta(milliseconds=30)


@dataclass
class Lane:
    """One DID of the pool, as one dispatcher sees it."""

    our_number: str
    rate: Decimal
    refusal: str | None  # why this DID may not send now (not enabled for SMS), or None
    horizon: datetime  # claimed up to here
    dry_until: float = 0.0  # monotonic: found nothing to claim, look again then
    # When this dispatcher released the last `ceil(rate)` of this DID's sends (monotonic): a send
    # whose slot came late must not pull the next ones closer together (see `held_for`).
    released: deque = field(default_factory=deque)

    @property
    def window(self) -> int:
        return max(1, math.ceil(self.rate))

    def held_for(self, now_mono: float) -> float:
        """Seconds the next release must wait so that no `window` + 1 releases come closer
        together than their slots (pacing.interval): slots are kept late, never caught up."""
        if len(self.released) < self.window:
            return 0.0
        span = pacing.interval(self.rate).total_seconds() * self.window
        return max(0.0, self.released[0] + span - now_mono)

    def mark_released(self, now_mono: float) -> None:
        self.released.append(now_mono)
        while len(self.released) > self.window:
            self.released.popleft()


@dataclass(order=True)
class Due:
    at: datetime
    seq: int
    recipient: Recipient = field(compare=False)


def lanes_for(campaign: Campaign) -> list[Lane]:
    now = timezone.now()
    return [
        Lane(
            our_number=number,
            rate=rate,
            refusal=send_refusal(number, media=False),
            horizon=now,
        )
        for number, rate in pacing.did_rates(campaign).items()
    ]


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
    carrier client's timeouts, and a lease's worth for the dispatcher to get to it."""
    return timedelta(seconds=sum(settings.CARRIERX_TIMEOUT) + settings.CAMPAIGN_CLAIM_LEASE_SECONDS)


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


def _claim(campaign: Campaign, lane: Lane, count: int) -> list[Recipient]:
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


def _release(campaign: Campaign, batch: list[tuple[Recipient, Lane]]) -> list[Message]:
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
            update_rows(going, ["message"])
        for message in messages:
            carrier_events.conversation_add_message(message, opens=False)
    return messages


def _ours(recipients: list[Recipient], state: str = Recipient.State.CLAIMED):
    """`recipients` still held under the claims this dispatcher read them with."""
    return Recipient.objects.filter(
        pk__in=[r.pk for r in recipients], claim__in={r.claim for r in recipients}, state=state
    )


# What `_post` answers for a call it did not make because its slot had passed.
LATE = None


def _post(
    client: CarrierXClient, message: Message, at: float
) -> tuple[dict | None, CarrierXError | None] | None:
    """The carrier call of `message`, at `at` (time.time()): waited for when early, and not made
    (LATE) when later than half the pace margin, like a release that missed its slot: a call
    begun late would crowd the ones of the slots after it, which may be another dispatcher's.
    The lateness is judged after the wait too: on a busy machine a thread may wake well past
    the moment it asked for."""
    lag = time.time() - at
    if lag < 0:
        time.sleep(-lag)
        lag = time.time() - at
    if lag > settings.CAMPAIGN_PACE_MARGIN / 2:
        return LATE
    try:
        return outbound.carrier_post(message, client=client), None
    except CarrierXError as err:
        return None, err
    except Exception as err:  # noqa: BLE001 — it may have reached the carrier: reconcile, never resend blindly
        logger.exception("campaign send of message %s failed unexpectedly", message.pk)
        return None, CarrierXError(f"The send failed unexpectedly: {err}")


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


def _record(answers: list[tuple[Message, dict | None, CarrierXError | None]]) -> None:
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
        update_rows(rows, ADOPTED_FIELDS)  # `updated_at` (auto_now) takes the time there
        Conversation.objects.filter(customer_number__in={r.their_number for r in rows}).update(
            updated_at=now
        )
    for message, sms, err in one_by_one:
        outbound.send_outcome_record(message, sms=sms, err=err)


def _pooled_client(threads: int) -> CarrierXClient:
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=threads)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return CarrierXClient(
        base_url=settings.CARRIERX_API_URL,
        token=settings.CARRIERX_TOKEN,
        timeout=settings.CARRIERX_TIMEOUT,
        session=session,
    )


class Dispatcher:
    def __init__(self, campaign: Campaign) -> None:
        self.campaign = campaign
        self.lanes = lanes_for(campaign)
        self.lane_of = {lane.our_number: lane for lane in self.lanes}
        self.due: list[Due] = []
        self.seq = itertools.count()
        self.in_flight: dict[Future, Message] = {}
        # Written, but their call came too late (`_post`): new slots, heap of (at, seq, message).
        self.again: list[tuple[datetime, int, Message]] = []
        self.sent = 0
        self.state = campaign.state
        self.hold_wait: float | None = None

    def run(self, seconds: float) -> int:
        threads = settings.CAMPAIGN_SEND_THREADS
        client = _pooled_client(threads)
        deadline = time.monotonic() + seconds
        next_state_read = 0.0
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="campaign") as pool:
            try:
                while True:
                    now_mono = time.monotonic()
                    if now_mono >= next_state_read:
                        self.state = (
                            Campaign.objects.filter(pk=self.campaign.pk)
                            .values_list("state", flat=True)
                            .first()
                        )
                        next_state_read = now_mono + STATE_EVERY
                    if self.state != Campaign.State.RUNNING:
                        break
                    claiming = now_mono < deadline
                    if claiming:
                        self._claim_ahead(now_mono)
                    if not self._release_due(pool, client):
                        next_state_read = 0.0  # paused or cancelled: read which, then stop
                        continue
                    self._record_done()
                    if not claiming and not self.due and not self.again:
                        break
                    if (
                        not self.due
                        and not self.again
                        and all(lane.dry_until > now_mono for lane in self.lanes)
                    ):
                        break  # nothing left that may go now
                    time.sleep(self._pause_for())
            finally:
                self._give_back()
                # Written messages go, at their slots, even once the campaign is paused: each
                # was released (and its recipient marked) before the pause was seen.
                while self.in_flight or self.again:
                    self._send_again(pool, client)
                    for future in list(self.in_flight):
                        future.result()
                    self._record_done()
                    if self.again:
                        time.sleep(self._pause_for())
        client.session.close()
        return self.sent

    def _claim_ahead(self, now_mono: float) -> None:
        horizon = timezone.now() + LOOKAHEAD
        for lane in self.lanes:
            if lane.dry_until > now_mono or lane.horizon >= horizon - REFILL_BELOW:
                continue
            gap = (horizon - max(lane.horizon, timezone.now())).total_seconds()
            count = max(1, math.ceil(gap * float(lane.rate)))
            claimed = _claim(self.campaign, lane, count)
            if not claimed:
                lane.dry_until = now_mono + 1.0
                continue
            slots = pacing.slots_reserve(lane.our_number, len(claimed), lane.rate)
            for at, recipient in zip(slots, claimed, strict=True):
                heapq.heappush(self.due, Due(at, next(self.seq), recipient))
            lane.horizon = slots[-1]

    def _release_due(self, pool: ThreadPoolExecutor, client: CarrierXClient) -> bool:
        """Release every claimed recipient whose time has come, together; False when the
        campaign was stopped meanwhile (the rest stay claimed, for `_give_back`)."""
        lanes = self.lane_of
        self._send_again(pool, client)
        now = timezone.now()
        held: list[Due] = []  # due, but their DID released its last ones late: a moment more
        late: dict[str, list[Recipient]] = {}  # missed their slot: new slots at the pace's end
        batch: list[Due] = []
        too_late = timedelta(seconds=settings.CAMPAIGN_PACE_MARGIN / 2)
        try:
            while self.due and self.due[0].at <= now + RELEASE_LEAD:
                due = heapq.heappop(self.due)
                lane = lanes[due.recipient.our_number]
                if timezone.now() - due.at > too_late:
                    # Sent now, it would crowd the sends of the slots after it, taken by this
                    # or another dispatcher: only a send close to its slot keeps the pace.
                    late.setdefault(lane.our_number, []).append(due.recipient)
                    continue
                now_mono = time.monotonic()
                if lane.held_for(now_mono) > 0:
                    held.append(due)
                    continue
                lane.mark_released(now_mono)
                batch.append(due)
            if batch:
                try:
                    messages = _release(
                        self.campaign, [(d.recipient, lanes[d.recipient.our_number]) for d in batch]
                    )
                except CampaignStopped:
                    held.extend(batch)  # still claimed: given back with the rest
                    return False
                slot_of = {d.recipient.pk: d.at for d in batch}
                for message in messages:
                    if lanes[message.our_number].refusal:
                        outbound.send_refusal_settle(message)
                        continue
                    at = slot_of[message.campaign_recipient.pk].timestamp()
                    self.in_flight[pool.submit(_post, client, message, at)] = message
                    self.sent += 1
        finally:
            for due in held:
                heapq.heappush(self.due, due)
            for our_number, recipients in late.items():
                lane = lanes[our_number]
                slots = pacing.slots_reserve(our_number, len(recipients), lane.rate)
                for at, recipient in zip(slots, recipients, strict=True):
                    heapq.heappush(self.due, Due(at, next(self.seq), recipient))
                lane.horizon = max(lane.horizon, slots[-1])
            now_mono = time.monotonic()
            self.hold_wait = min(
                (lanes[d.recipient.our_number].held_for(now_mono) for d in held), default=None
            )
        return True

    def _send_again(self, pool: ThreadPoolExecutor, client: CarrierXClient) -> None:
        """Hand to the pool the written messages whose new slot is close."""
        soon = timezone.now() + RELEASE_LEAD
        while self.again and self.again[0][0] <= soon:
            at, _, message = heapq.heappop(self.again)
            self.in_flight[pool.submit(_post, client, message, at.timestamp())] = message

    def _record_done(self) -> None:
        """Store the carrier's answers that have come, in one transaction (one commit, not one a
        message: at tens of messages a second the commits were most of the database's work).
        A call not made because it came too late gets a new slot at the end of its DID's pace."""
        done = [f for f in self.in_flight if f.done()]
        if not done:
            return
        late: dict[str, list[Message]] = {}
        answers = []
        for future in done:
            message, result = self.in_flight.pop(future), future.result()
            if result is LATE:
                late.setdefault(message.our_number, []).append(message)
            else:
                answers.append((message, *result))
        for our_number, messages in late.items():
            slots = pacing.slots_reserve(our_number, len(messages), self.lane_of[our_number].rate)
            for at, message in zip(slots, messages, strict=True):
                heapq.heappush(self.again, (at, next(self.seq), message))
        if answers:
            with transaction.atomic():
                _record(answers)

    def _pause_for(self) -> float:
        next_at = [x for x in (self.due and self.due[0].at, self.again and self.again[0][0]) if x]
        if not next_at:
            return IDLE_SLEEP
        wait = (min(next_at) - RELEASE_LEAD - timezone.now()).total_seconds()
        if wait <= 0 and self.hold_wait is not None:
            wait = self.hold_wait  # due, but held back by its DID's last releases
        return min(max(wait, 0.0), IDLE_SLEEP)

    def _give_back(self) -> None:
        """Claimed, not released: back to waiting, or cancelled with the campaign."""
        if not self.due:
            return
        cancelled = self.state == Campaign.State.CANCELLED
        # Only under our own claims: one a dead dispatcher's lease gave to another is theirs now.
        by_claim: dict[str, list[int]] = {}
        for d in self.due:
            by_claim.setdefault(d.recipient.claim, []).append(d.recipient.pk)
        ours = Q()
        for claim, pks in by_claim.items():
            ours |= Q(claim=claim, pk__in=pks)
        Recipient.objects.filter(ours, state=Recipient.State.CLAIMED).update(
            state=Recipient.State.CANCELLED if cancelled else Recipient.State.PENDING, claim=""
        )
        self.due.clear()
