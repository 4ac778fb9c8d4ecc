"""Sending a campaign: each DID at its pace, many carrier calls at once, crash-safe.

One dispatcher is one task run (at most CAMPAIGN_TICK_SECONDS; it queues its successor). It keeps
one database connection, on its own thread, and a pool of threads that only make carrier calls:

1. *Claim*, about a second ahead, as many waiting recipients of each DID as that DID's pace allows
   (one UPDATE: two dispatchers never claim the same row), and take that many send times from the
   DID's pace row (campaigns/pacing.py). Recipients who texted STOP meanwhile are set aside here;
   ones in their quiet hours wait for their morning.
2. *Release* ahead of their times: once the first claimed send is due within RELEASE_SOON, every
   one due within RELEASE_AHEAD (both longer while releases are slow: `Dispatcher._lead`) is
   written together (its Message with status `sending` and one
   attempt counted, its recipient marked sent with its slot in `slot_at`) in one transaction —
   before the carrier is called, as every send does here — and handed to the thread pool, where
   each waits for its own slot before its call. The carrier sees each DID at its pace; the
   database sees one transaction per batch, not per message, and its round trips are off the
   slots' timing. Only a send still close to its slot is released (within half the pace margin):
   one that missed it (a stalled worker, a busy machine) takes a new slot at the end of the DID's
   pace instead of crowding the next ones, which may be another dispatcher's; nor does this
   dispatcher let a DID's calls come closer than their slots after a late one (`Lane.held_for`).
   A send thread that wakes for its slot more than half the margin late does not call at all (the
   carrier would see it crowd the next slots, this dispatcher's or another's): it hands its
   message back, unposted, and the message waits in the dispatcher for a new slot at the end of
   its DID's pace, like a late release (`Due.message`; no attempt counted while it waits).
3. *Record* each answer on this thread with the send path's own rules (messaging/services/
   outbound.py): the SID adopted, a retry queued, or reconciliation after a timeout. The answers
   that have come are recorded together, the plain adoptions in a few statements for all.

A dispatcher that dies (SIGKILL, a lost machine) leaves recipients claimed but unreleased, which
the next dispatcher gives back after CAMPAIGN_CLAIM_LEASE_SECONDS (nothing was sent: the message
row comes first), and messages written but unanswered, which the next dispatcher hands to
reconciliation by `user_data` once a live one would surely have had its answer (adopted, or sent
once more only if the carrier provably has none; `unanswered_recover`): one killed while it waited
for its slot is one of these, and the carrier, having none, gets it once. Pause and Cancel stop the
next release (each checks, in its transaction, that the campaign still runs): claimed recipients
not yet released go back (or are cancelled) and nothing more is released. What was released before
the pause still goes, at its slot, at most RELEASE_AHEAD_MAX later: the lookahead is kept that short
rather than have each waiting send read the campaign's state again (a connection per send thread),
so a pause stops new calls within a second. A STOP that lands in those few hundred ms between a
send's release and its call does not stop it, as one landing during the call would not. A message
handed back for a new slot goes only through a release like any other (the campaign still
running, no STOP since): otherwise it ends cancelled, never posted, and its recipient waits again
(Pause) or is cancelled (Cancel), as does one whose dispatcher died holding it
(`held_recover`): it was never posted, so there is nothing to reconcile.
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

logger = logging.getLogger(__name__)

LOOKAHEAD = timedelta(seconds=1)
# A DID's claim is topped up to LOOKAHEAD only once less than this is left ahead: a claim and
# its slots cost about seven statements however many recipients they take, and topping up on
# every pass (every few tens of ms) claimed one recipient at a time.
REFILL_BELOW = LOOKAHEAD / 2
# Release the sends due within RELEASE_AHEAD together, once the first is due within RELEASE_SOON:
# batches of ~RELEASE_AHEAD - RELEASE_SOON of the pool's sends, and RELEASE_SOON for the batch's
# transaction to commit before its first slot. Short: a pause stops calls RELEASE_AHEAD late.
# On a busy machine a release's transaction can take longer than RELEASE_SOON, and every send it
# made late would miss its slot and be handed back (bench/RESULTS.md run S): the lead follows
# twice the recent transactions' time, up to RELEASE_SOON_MAX (the lookahead up to
# RELEASE_AHEAD_MAX, still under the second a pause has).
RELEASE_AHEAD = timedelta(seconds=0.3)
RELEASE_SOON = timedelta(seconds=0.1)
RELEASE_SOON_MAX = timedelta(seconds=0.4)
RELEASE_AHEAD_MAX = RELEASE_SOON_MAX + (RELEASE_AHEAD - RELEASE_SOON)
STATE_EVERY = 0.5  # seconds between reads of the campaign's state (Pause within one second)
IDLE_SLEEP = 0.05


@dataclass
class Lane:
    """One DID of the pool, as one dispatcher sees it."""

    our_number: str
    rate: Decimal
    refusal: str | None  # why this DID may not send now (not enabled for SMS), or None
    horizon: datetime  # claimed up to here
    dry_until: float = 0.0  # monotonic: found nothing to claim, look again then
    # When this dispatcher's last `ceil(rate)` calls from this DID go (monotonic): a send whose
    # call came late must not pull the next ones closer together (see `held_for`).
    released: deque = field(default_factory=deque)

    @property
    def window(self) -> int:
        return max(1, math.ceil(self.rate))

    def held_for(self, now_mono: float) -> float:
        """Seconds after `now_mono` the next call must wait so that no `window` + 1 calls come
        closer together than their slots (pacing.interval): slots are kept late, never caught
        up."""
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
    # Set when the send was released before and its thread woke too late to call: the message
    # already written, unposted, waiting for this new slot.
    message: Message | None = field(default=None, compare=False)


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
    wait for its slot, the carrier client's timeouts, and a lease's worth for the dispatcher to
    get to it."""
    return RELEASE_AHEAD_MAX + timedelta(
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


HELD_ERROR = "Not sent: it missed its time slot and the campaign stopped before it went."


def held_messages(campaign_id: int):
    """The campaign's messages handed back unposted for a new slot (see `Due.message`): written,
    no attempt counted, no SID, their recipient marked sent."""
    return Message.objects.filter(
        campaign_recipient__campaign_id=campaign_id,
        campaign_recipient__state=Recipient.State.MESSAGED,
        status=Status.SENDING,
        message_sid__isnull=True,
        send_attempts=0,
    )


def held_cancel(messages, *, cancelled: bool) -> int:
    """End `messages` (a queryset of held ones) cancelled, never posted, and their recipients
    waiting again (or cancelled with the campaign). Only a message still held is touched: one a
    live dispatcher released again meanwhile counts its attempt first and is left alone."""
    now = timezone.now()
    with transaction.atomic():
        ids = list(messages.values_list("pk", flat=True))
        still = Message.objects.filter(
            pk__in=ids, status=Status.SENDING, message_sid__isnull=True, send_attempts=0
        )
        if not still.update(status=Status.CANCELLED, error=HELD_ERROR, updated_at=now):
            return 0
        done = list(
            Message.objects.filter(pk__in=ids, status=Status.CANCELLED, updated_at=now).values_list(
                "pk", flat=True
            )
        )
        return Recipient.objects.filter(message_id__in=done, state=Recipient.State.MESSAGED).update(
            state=Recipient.State.CANCELLED if cancelled else Recipient.State.PENDING,
            claim="",
            message=None,
        )


def held_recover(campaign_id: int) -> int:
    """Messages a dead dispatcher held for a new slot: never posted (the thread decided not to
    call before the hand-back was written), so they are cancelled and their recipients texted
    afresh, not reconciled."""
    stale = timezone.now() - timedelta(seconds=settings.CAMPAIGN_CLAIM_LEASE_SECONDS)
    return held_cancel(held_messages(campaign_id).filter(updated_at__lt=stale), cancelled=False)


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


def _release(
    campaign: Campaign,
    batch: list[tuple[Recipient, Lane]],
    again: list[tuple[Recipient, Message]] = (),
) -> list[Message]:
    """Write the messages of `batch`'s recipients and mark them sent, in one transaction that
    commits before any of them is handed to the carrier. A recipient another dispatcher took back
    meanwhile, or who texted STOP since the claim, gets nothing (nothing written, nothing sent).
    Raises CampaignStopped, writing nothing, once the campaign is paused or cancelled: a pause
    stops the next release, not the next read of the state. `again` are messages handed back for
    a new slot (`Due.message`): released again in the same transaction, their attempt counted, or
    cancelled when their customer texted STOP meanwhile.

    A batch costs a fixed few statements (one UPDATE marks them all, one INSERT writes all their
    messages, one UPDATE links them) plus each message's conversation upsert: a statement per
    recipient each was most of a dispatcher's time on PostgreSQL (bench/RESULTS.md, run I)."""
    lanes = {recipient.pk: lane for recipient, lane in batch}
    with transaction.atomic():
        if not Campaign.objects.filter(pk=campaign.pk, state=Campaign.State.RUNNING).exists():
            raise CampaignStopped
        opted = set(
            OptOut.objects.filter(
                customer_number__in={r.number for r, _ in batch} | {r.number for r, _ in again},
                opted_out=True,
            ).values_list("customer_number", "our_number")
        )
        released = _release_again(again, opted)
        stopped = [r for r, lane in batch if (r.number, lane.our_number) in opted]
        going = [r for r, lane in batch if (r.number, lane.our_number) not in opted]
        if stopped:
            _ours(stopped).update(state=Recipient.State.OPTED_OUT, claim="")
        if not going:
            return released
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
    return released + messages


def _release_again(
    again: list[tuple[Recipient, Message]], opted: set[tuple[str, str]]
) -> list[Message]:
    """The part of `_release` for messages handed back (inside its transaction): each still held
    (no attempt counted: `held_recover` or a pause may have cancelled it) counts its attempt now,
    before its call; one whose customer texted STOP ends cancelled, its recipient opted out."""
    if not again:
        return []
    now = timezone.now()
    stop = [m.pk for r, m in again if (r.number, m.our_number) in opted]
    if stop:
        Message.objects.filter(pk__in=stop, send_attempts=0, status=Status.SENDING).update(
            status=Status.CANCELLED, error="Not sent: the customer texted STOP.", updated_at=now
        )
        Recipient.objects.filter(message_id__in=stop, state=Recipient.State.MESSAGED).update(
            state=Recipient.State.OPTED_OUT, claim="", message=None
        )
    going = [(r, m) for r, m in again if m.pk not in stop]
    still = Message.objects.filter(
        pk__in=[m.pk for _, m in going],
        status=Status.SENDING,
        message_sid__isnull=True,
        send_attempts=0,
    )
    if not still.update(send_attempts=1, updated_at=now):
        return []
    # Counted by this UPDATE: a held message's attempts go from 0 to 1 only here.
    ours = set(
        Message.objects.filter(
            pk__in=[m.pk for _, m in going], send_attempts=1, updated_at=now
        ).values_list("pk", flat=True)
    )
    going = [(r, m) for r, m in going if m.pk in ours]
    for _, message in going:
        message.send_attempts = 1
    Recipient.objects.bulk_update([r for r, _ in going], ["slot_at"])
    return [m for _, m in going]


def _ours(recipients: list[Recipient], state: str = Recipient.State.CLAIMED):
    """`recipients` still held under the claims this dispatcher read them with."""
    return Recipient.objects.filter(
        pk__in=[r.pk for r in recipients], claim__in={r.claim for r in recipients}, state=state
    )


def _sleep_until(at: float) -> None:
    time.sleep(max(0.0, at - time.monotonic()))


def _post(
    client: CarrierXClient, message: Message, at: float = 0.0, too_late: float = math.inf
) -> tuple[dict | None, CarrierXError | None] | None:
    """Call the carrier with `message` once its slot `at` (monotonic) has come; None, without
    calling, when this thread woke more than `too_late` seconds after it (a busy machine): the
    call would land among the next slots' calls, this dispatcher's or another's, and the carrier
    counts arrivals. Judged here, at the last moment before the call, not at the release."""
    _sleep_until(at)
    if time.monotonic() - at > too_late:
        return None
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
            row.updated_at = now
        Message.objects.bulk_update(rows, ADOPTED_FIELDS)
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
        self.due: list[Due] = []
        self.seq = itertools.count()
        self.in_flight: dict[Future, Message] = {}
        self.recipient_of: dict[int, Recipient] = {}  # in flight, by message id: for a hand-back
        self.sent = 0
        self.state = campaign.state
        self.hold_wait: float | None = None
        self.release_cost = 0.0  # seconds a release transaction took lately (see `_lead`)
        # …and per message: a release takes no more sends than commit in half its lead, so that
        # at a high rate (hundreds a second) on a slow database it never writes a batch whose
        # first slots pass before its commit, hands them all back, and starts again (livelock).
        self.release_cost_each = 0.001
        self.handed = 0  # sends whose thread woke too late and handed its message back

    def run(self, seconds: float) -> int:
        # CAMPAIGN_SEND_THREADS calls at once, besides the sends released ahead waiting for
        # their slots (a pool's RELEASE_AHEAD of sends): waiting must not hold a call back.
        waiting = math.ceil(
            sum(float(lane.rate) for lane in self.lanes) * RELEASE_AHEAD_MAX.total_seconds()
        )
        threads = settings.CAMPAIGN_SEND_THREADS + waiting + 1
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
                    # Not before the calls in flight have answered: one may hand its message
                    # back for a new slot.
                    if not self.due and not self.in_flight:
                        if not claiming:
                            break
                        if all(lane.dry_until > now_mono for lane in self.lanes):
                            break  # nothing left that may go now
                    time.sleep(self._pause_for())
            finally:
                for future in list(self.in_flight):
                    future.result()
                self._record_done()
                self._give_back()
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
        """Once the first claimed send is due within RELEASE_SOON, release together every one due
        within RELEASE_AHEAD, each to wait in the pool for its own slot; False when the campaign
        was stopped meanwhile (the rest stay claimed, for `_give_back`)."""
        now = timezone.now()
        soon, ahead_by = self._lead()
        if not self.due or self.due[0].at > now + soon:
            return True
        lanes = {lane.our_number: lane for lane in self.lanes}
        now_mono = time.monotonic()
        ahead = ahead_by.total_seconds()
        held: list[Due] = []  # their DID's last calls went late: the call would be too far off
        late: dict[str, list[Due]] = {}  # missed their slot: new slots at the pace's end
        batch: list[tuple[Due, float]] = []  # with when each calls (monotonic)
        too_late = timedelta(seconds=settings.CAMPAIGN_PACE_MARGIN / 2)
        try:
            most = max(1, int(soon.total_seconds() / 2 / self.release_cost_each))
            while self.due and self.due[0].at <= now + ahead_by and len(batch) < most:
                due = heapq.heappop(self.due)
                lane = lanes[due.recipient.our_number]
                if now - due.at > too_late:
                    # Sent now, it would crowd the sends of the slots after it, taken by this
                    # or another dispatcher: only a send close to its slot keeps the pace.
                    late.setdefault(lane.our_number, []).append(due)
                    continue
                slot = max(now_mono, now_mono + (due.at - now).total_seconds())
                at = slot + lane.held_for(slot)
                if at > now_mono + ahead:
                    held.append(due)
                    continue
                lane.mark_released(at)
                due.recipient.slot_at = now + timedelta(seconds=at - now_mono)
                batch.append((due, at))
            if batch:
                calls = {due.recipient.number: at for due, at in batch}  # unique per campaign
                recipients = {due.recipient.number: due.recipient for due, _ in batch}
                started = time.monotonic()
                try:
                    messages = _release(
                        self.campaign,
                        [
                            (d.recipient, lanes[d.recipient.our_number])
                            for d, _ in batch
                            if not d.message
                        ],
                        [(d.recipient, d.message) for d, _ in batch if d.message],
                    )
                except CampaignStopped:
                    held.extend(due for due, _ in batch)  # still ours: given back with the rest
                    return False
                took = time.monotonic() - started
                self.release_cost = max(took, 0.7 * self.release_cost + 0.3 * took)
                each = took / len(batch)
                self.release_cost_each = max(each, 0.7 * self.release_cost_each + 0.3 * each)
                for message in messages:
                    if lanes[message.our_number].refusal:
                        outbound.send_refusal_settle(message)
                        continue
                    at = calls[message.their_number]
                    future = pool.submit(_post, client, message, at, too_late.total_seconds())
                    self.in_flight[future] = message
                    self.recipient_of[message.pk] = recipients[message.their_number]
                    self.sent += 1
        finally:
            for due in held:
                heapq.heappush(self.due, due)
            for our_number, dues in late.items():
                self._reslot(lanes[our_number], [(d.recipient, d.message) for d in dues])
            self.hold_wait = (
                min(lanes[d.recipient.our_number].held_for(now_mono) for d in held) - ahead
                if held
                else None
            )
        return True

    def _lead(self) -> tuple[timedelta, timedelta]:
        """How long before its first slot a release starts, and how far ahead it reaches: twice
        the recent release transactions' time (the last one when it was longer), so that the
        batch commits before its first slot, between RELEASE_SOON and RELEASE_SOON_MAX."""
        soon = min(RELEASE_SOON_MAX, max(RELEASE_SOON, timedelta(seconds=2 * self.release_cost)))
        return soon, soon + (RELEASE_AHEAD - RELEASE_SOON)

    def _reslot(self, lane: Lane, sends: list[tuple[Recipient, Message | None]]) -> None:
        """New slots at the end of `lane`'s pace for sends that missed theirs."""
        slots = pacing.slots_reserve(lane.our_number, len(sends), lane.rate)
        for at, (recipient, message) in zip(slots, sends, strict=True):
            heapq.heappush(self.due, Due(at, next(self.seq), recipient, message))
        lane.horizon = max(lane.horizon, slots[-1])

    def _record_done(self) -> None:
        """Store the carrier's answers that have come, in one transaction (one commit, not one a
        message: at tens of messages a second the commits were most of the database's work), and
        take new slots for the sends that woke too late to call."""
        done = [f for f in self.in_flight if f.done()]
        if not done:
            return
        answers, missed = [], []
        for future in done:
            message = self.in_flight.pop(future)
            recipient = self.recipient_of.pop(message.pk)
            outcome = future.result()
            if outcome is None:
                missed.append((recipient, message))
            else:
                answers.append((message, *outcome))
        if answers:
            with transaction.atomic():
                _record(answers)
        if missed:
            self._hand_back(missed)

    def _hand_back(self, missed: list[tuple[Recipient, Message]]) -> None:
        """Messages whose thread woke too late and did not call: no attempt counted while they
        wait (so a successor cancels rather than reconciles them should this dispatcher die:
        `held_recover`), each with a new slot at the end of its DID's pace."""
        Message.objects.filter(
            pk__in=[m.pk for _, m in missed], status=Status.SENDING, message_sid__isnull=True
        ).update(send_attempts=0, updated_at=timezone.now())
        self.sent -= len(missed)
        self.handed += len(missed)
        lanes = {lane.our_number: lane for lane in self.lanes}
        by_did: dict[str, list[tuple[Recipient, Message]]] = {}
        for recipient, message in missed:
            message.send_attempts = 0
            by_did.setdefault(message.our_number, []).append((recipient, message))
        for our_number, sends in by_did.items():
            self._reslot(lanes[our_number], sends)

    def _pause_for(self) -> float:
        if not self.due:
            return IDLE_SLEEP
        wait = (self.due[0].at - self._lead()[0] - timezone.now()).total_seconds()
        if wait <= 0 and self.hold_wait is not None:
            wait = self.hold_wait  # due, but its DID's last calls push its call too far off
        return min(max(wait, 0.001), IDLE_SLEEP)

    def _give_back(self) -> None:
        """Claimed, not released: back to waiting, or cancelled with the campaign. A message
        handed back for a new slot ends cancelled, never posted, its recipient likewise."""
        if not self.due:
            return
        cancelled = self.state == Campaign.State.CANCELLED
        handed = [d.message.pk for d in self.due if d.message]
        if handed:
            held_cancel(Message.objects.filter(pk__in=handed), cancelled=cancelled)
        claimed = [d for d in self.due if not d.message]
        self.due.clear()
        if not claimed:
            return
        # Only under our own claims: one a dead dispatcher's lease gave to another is theirs now.
        by_claim: dict[str, list[int]] = {}
        for d in claimed:
            by_claim.setdefault(d.recipient.claim, []).append(d.recipient.pk)
        ours = Q()
        for claim, pks in by_claim.items():
            ours |= Q(claim=claim, pk__in=pks)
        Recipient.objects.filter(ours, state=Recipient.State.CLAIMED).update(
            state=Recipient.State.CANCELLED if cancelled else Recipient.State.PENDING, claim=""
        )
