"""Sending a campaign: each DID at its pace, many carrier calls at once, crash-safe.

One dispatcher is one task run (at most CAMPAIGN_TICK_SECONDS; it queues its successor). It keeps
one database connection, on its own thread (its writes: campaigns/batches.py), and a pool of threads
that only make carrier calls:

1. *Claim*, about a second ahead, as many waiting recipients of each DID as that DID's pace allows
   (one UPDATE: two dispatchers never claim the same row), and take that many send times from the
   DID's pace row (campaigns/pacing.py). Recipients who texted STOP meanwhile are set aside here;
   ones in their quiet hours wait for their morning.
2. *Release* ahead of their times: once the first claimed send is due within RELEASE_SOON, every
   one due within RELEASE_AHEAD is written together (its Message with status `sending` and one
   attempt counted, its recipient marked sent with its slot in `slot_at`) in one transaction —
   before the carrier is called, as every send does here — and handed to the thread pool, where
   each waits for its own slot before its call. The carrier sees each DID at its pace; the
   database sees one transaction per batch, not per message, and its round trips are off the
   slots' timing. Only a send still close to its slot is released (within half the pace margin):
   one that missed it (a stalled worker, a busy machine) takes a new slot at the end of the DID's
   pace instead of crowding the next ones, which may be another dispatcher's; nor does this
   dispatcher let a DID's calls come closer than their slots after a late one (`Lane.held_for`).
3. *Record* each answer on this thread with the send path's own rules (messaging/services/
   outbound.py): the SID adopted, a retry queued, or reconciliation after a timeout. The answers
   that have come are recorded together, the plain adoptions in a few statements for all.

A dispatcher that dies (SIGKILL, a lost machine) leaves recipients claimed but unreleased, which
the next dispatcher gives back after CAMPAIGN_CLAIM_LEASE_SECONDS (nothing was sent: the message
row comes first), and messages written but unanswered, which the next dispatcher hands to
reconciliation by `user_data` once a live one would surely have had its answer (adopted, or sent
once more only if the carrier provably has none; campaigns/recovery.py): one killed while it waited
for its slot is one of these, and the carrier, having none, gets it once. Pause and Cancel stop the
next release (each checks, in its transaction, that the campaign still runs): claimed recipients
not yet released go back (or are cancelled) and nothing more is released. What was released before
the pause still goes, at its slot, at most RELEASE_AHEAD later: the lookahead is kept that short
rather than have each waiting send read the campaign's state again (a connection per send thread),
so a pause stops new calls within a second. A STOP that lands in those few hundred ms between a
send's release and its call does not stop it, as one landing during the call would not.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import time
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

from campaigns import batches, pacing
from campaigns.models import Campaign, Recipient
from messaging.models import Message
from messaging.services import outbound
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
RELEASE_AHEAD = timedelta(seconds=0.3)
RELEASE_SOON = timedelta(seconds=0.1)
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


def _post(
    client: CarrierXClient, message: Message, at: float = 0.0
) -> tuple[dict | None, CarrierXError | None]:
    """Call the carrier with `message` once its slot `at` (monotonic) has come."""
    time.sleep(max(0.0, at - time.monotonic()))
    try:
        return outbound.carrier_post(message, client=client), None
    except CarrierXError as err:
        return None, err
    except Exception as err:  # noqa: BLE001 — it may have reached the carrier: reconcile, never resend blindly
        logger.exception("campaign send of message %s failed unexpectedly", message.pk)
        return None, CarrierXError(f"The send failed unexpectedly: {err}")


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
        self.sent = 0
        self.state = campaign.state
        self.hold_wait: float | None = None

    def run(self, seconds: float) -> int:
        # CAMPAIGN_SEND_THREADS calls at once, besides the sends released ahead waiting for
        # their slots (a pool's RELEASE_AHEAD of sends): waiting must not hold a call back.
        waiting = math.ceil(
            sum(float(lane.rate) for lane in self.lanes) * RELEASE_AHEAD.total_seconds()
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
                    if not claiming and not self.due:
                        break
                    if not self.due and all(lane.dry_until > now_mono for lane in self.lanes):
                        break  # nothing left that may go now
                    time.sleep(self._pause_for())
            finally:
                self._give_back()
                for future in list(self.in_flight):
                    future.result()
                self._record_done()
        client.session.close()
        return self.sent

    def _claim_ahead(self, now_mono: float) -> None:
        horizon = timezone.now() + LOOKAHEAD
        for lane in self.lanes:
            if lane.dry_until > now_mono or lane.horizon >= horizon - REFILL_BELOW:
                continue
            gap = (horizon - max(lane.horizon, timezone.now())).total_seconds()
            count = max(1, math.ceil(gap * float(lane.rate)))
            claimed = batches.claim(self.campaign, lane, count)
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
        if not self.due or self.due[0].at > now + RELEASE_SOON:
            return True
        lanes = {lane.our_number: lane for lane in self.lanes}
        now_mono = time.monotonic()
        ahead = RELEASE_AHEAD.total_seconds()
        held: list[Due] = []  # their DID's last calls went late: the call would be too far off
        late: dict[str, list[Recipient]] = {}  # missed their slot: new slots at the pace's end
        batch: list[tuple[Due, float]] = []  # with when each calls (monotonic)
        too_late = timedelta(seconds=settings.CAMPAIGN_PACE_MARGIN / 2)
        try:
            while self.due and self.due[0].at <= now + RELEASE_AHEAD:
                due = heapq.heappop(self.due)
                lane = lanes[due.recipient.our_number]
                if now - due.at > too_late:
                    # Sent now, it would crowd the sends of the slots after it, taken by this
                    # or another dispatcher: only a send close to its slot keeps the pace.
                    late.setdefault(lane.our_number, []).append(due.recipient)
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
                try:
                    messages = batches.release(
                        self.campaign,
                        [(d.recipient, lanes[d.recipient.our_number]) for d, _ in batch],
                    )
                except batches.CampaignStopped:
                    held.extend(due for due, _ in batch)  # still claimed: given back with the rest
                    return False
                for message in messages:
                    if lanes[message.our_number].refusal:
                        outbound.send_refusal_settle(message)
                        continue
                    at = calls[message.their_number]
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
            self.hold_wait = (
                min(lanes[d.recipient.our_number].held_for(now_mono) for d in held) - ahead
                if held
                else None
            )
        return True

    def _record_done(self) -> None:
        """Store the carrier's answers that have come, in one transaction (one commit, not one a
        message: at tens of messages a second the commits were most of the database's work)."""
        done = [f for f in self.in_flight if f.done()]
        if not done:
            return
        with transaction.atomic():
            answers = [(self.in_flight.pop(future), *future.result()) for future in done]
            batches.record(answers)

    def _pause_for(self) -> float:
        if not self.due:
            return IDLE_SLEEP
        wait = (self.due[0].at - RELEASE_SOON - timezone.now()).total_seconds()
        if wait <= 0 and self.hold_wait is not None:
            wait = self.hold_wait  # due, but its DID's last calls push its call too far off
        return min(max(wait, 0.001), IDLE_SLEEP)

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
