"""Reads for the Campaigns pages: the list with its counts, a draft's preview, the live progress
(one aggregate query per poll), the per-recipient report, and the inbox's campaign tags.

Pages read only the database: nothing here calls the carrier.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from campaigns import pacing
from campaigns.models import Campaign, Recipient
from campaigns.recipients import RecipientList
from contacts.selectors import contact_names
from messaging.models import Direction, Message, Status
from messaging.segments import GSM7, count_segments, price_per_segment
from messaging.text_templates import placeholders, render
from portal.phones import format_number

RState = Recipient.State
SAMPLES = 3
NAMED = 10  # recipients named in a warning before "and N more"


def _replied() -> Exists:
    """The recipient texted us after their campaign message."""
    return Exists(
        Message.objects.filter(
            direction=Direction.INBOUND,
            their_number=OuterRef("number"),
            id__gt=OuterRef("message_id"),
        )
    )


def campaigns_for_list() -> QuerySet[Campaign]:
    """Every campaign, newest first, with its counts in the same query."""
    to_send = ~Q(recipients__state=RState.REMOVED)
    return Campaign.objects.annotate(
        total=Count("recipients", filter=to_send),
        sent=Count("recipients", filter=Q(recipients__state=RState.MESSAGED)),
        delivered=Count("recipients", filter=Q(recipients__message__status=Status.DELIVERED)),
        failed=Count("recipients", filter=Q(recipients__message__status=Status.FAILED)),
    ).order_by("-id")


# --- Progress -------------------------------------------------------------------------------------


@dataclass
class Progress:
    total: int  # recipients to text (not removed)
    waiting: int  # pending or claimed, not held
    held: int  # pending, held by quiet hours
    messaged: int  # a message was written (sending or later)
    delivered: int
    failed: int
    opted_out: int  # texted STOP during the run, before their turn
    cancelled: int
    replies: int  # recipients who texted back after their campaign message
    removed: int
    pool_rate: Decimal  # messages a second the whole pool may send

    @property
    def done(self) -> int:
        """Recipients nothing more will happen to: messaged, opted out or cancelled."""
        return self.messaged + self.opted_out + self.cancelled

    @property
    def in_flight(self) -> int:
        """Messaged, without a final status yet."""
        return self.messaged - self.delivered - self.failed

    @property
    def percent(self) -> int:
        return int(100 * self.done / self.total) if self.total else 100

    def finish_at(self, now: datetime) -> datetime | None:
        """When the last waiting recipient should be sent at the pool's pace (quiet hours not
        counted)."""
        left = self.waiting + self.held
        if not left or not self.pool_rate:
            return None
        return now + timedelta(seconds=float(left / self.pool_rate))


def pool_rate(campaign: Campaign) -> Decimal:
    """Messages a second the campaign may send: each DID at the campaign's rate, else its own."""
    return sum(pacing.did_rates(campaign).values(), Decimal(0))


def campaign_progress(campaign: Campaign, *, rate: Decimal | None = None) -> Progress:
    """Every count of the campaign page in one aggregate query (plus the DIDs' rates when the
    campaign has none of its own and the caller did not pass `rate`)."""
    now = timezone.now()
    pending = Q(state=RState.PENDING)
    held = pending & Q(not_before__gt=now)
    counts = Recipient.objects.filter(campaign=campaign).aggregate(
        total=Count("id", filter=~Q(state=RState.REMOVED)),
        waiting=Count("id", filter=(pending & ~Q(not_before__gt=now)) | Q(state=RState.CLAIMED)),
        held=Count("id", filter=held),
        messaged=Count("id", filter=Q(state=RState.MESSAGED)),
        delivered=Count("id", filter=Q(message__status=Status.DELIVERED)),
        failed=Count("id", filter=Q(message__status=Status.FAILED)),
        opted_out=Count("id", filter=Q(state=RState.OPTED_OUT)),
        cancelled=Count("id", filter=Q(state=RState.CANCELLED)),
        removed=Count("id", filter=Q(state=RState.REMOVED)),
        replies=Count("id", filter=Q(message__isnull=False) & Q(_replied())),
    )
    return Progress(**counts, pool_rate=pool_rate(campaign) if rate is None else rate)


# --- Preview --------------------------------------------------------------------------------------


@dataclass
class Sample:
    number: str  # as stored (the template formats it)
    our_number: str  # formatted
    text: str
    name: str = ""  # the contact's name, when the number has one


@dataclass
class Preview:
    send: int
    removed: dict[str, int]  # reason → count, every reason listed
    removed_total: int
    segments: int  # all the texts together
    cost: Decimal | None  # None: the price per segment is unknown
    typical_segments: int  # the most common count of one text
    worst_segments: int
    samples: list[Sample]
    # (row, formatted number, detail) of the recipients worth a look, and how many in all
    empty: list[tuple[int, str, str]] = field(default_factory=list)
    empty_total: int = 0
    longer: list[tuple[int, str, str]] = field(default_factory=list)
    longer_total: int = 0
    ucs2: list[tuple[int, str, str]] = field(default_factory=list)
    ucs2_total: int = 0
    unknown_names: list[str] = field(default_factory=list)


def campaign_preview(campaign: Campaign) -> Preview:
    """What Start would send: who, who not and why, how many segments and what they cost, three
    texts as they will read, and the rows worth a look (an empty variable, a longer or UCS-2 text).

    Every text is rendered once here (a distinct set of values once), so even a long list is read
    in one pass of one query."""
    names = placeholders(campaign.body)
    removed = dict.fromkeys(Recipient.Reason.values, 0)
    for reason, n in (
        Recipient.objects.filter(campaign=campaign, state=RState.REMOVED)
        .values_list("reason")
        .annotate(n=Count("id"))
        .values_list("reason", "n")
    ):
        removed[reason] = n
    base = count_segments(render(campaign.body, {}))
    rows = (
        Recipient.objects.filter(campaign=campaign)
        .exclude(state=RState.REMOVED)
        .order_by("row")
        .values_list("row", "number", "our_number", "variables")
    )
    seen: dict[tuple, tuple[int, str, str | None]] = {}
    per_count: Counter[int] = Counter()
    counted: list[tuple[int, str, int, str, str | None]] = []
    preview = Preview(
        send=0,
        removed=removed,
        removed_total=sum(removed.values()),
        segments=0,
        cost=None,
        typical_segments=0,
        worst_segments=0,
        samples=[],
    )
    for row, number, our_number, variables in rows.iterator(chunk_size=2000):
        variables = variables or {}
        key = tuple(str(variables.get(n) or "") for n in names)
        if key not in seen:
            text = render(campaign.body, variables)
            count = count_segments(text)
            seen[key] = (count.segments, count.encoding, count.ucs2_culprit)
            if len(seen) > 50_000:  # a list of all-different values: keep memory bounded
                seen.clear()
        segments, encoding, culprit = seen[key]
        preview.send += 1
        preview.segments += segments
        per_count[segments] += 1
        if len(preview.samples) < SAMPLES:
            preview.samples.append(
                Sample(number, format_number(our_number), render(campaign.body, variables))
            )
        empty = [n for n, v in zip(names, key, strict=True) if not v.strip()]
        if empty:
            preview.empty_total += 1
            if len(preview.empty) < NAMED:
                listed = ", ".join("{" + n + "}" for n in empty)
                preview.empty.append((row, format_number(number), f"{listed} empty"))
        counted.append((row, number, segments, encoding, culprit))
    if preview.send:
        preview.typical_segments = per_count.most_common(1)[0][0]
        preview.worst_segments = max(per_count)
    for row, number, segments, encoding, culprit in counted:
        if segments > preview.typical_segments:
            preview.longer_total += 1
            if len(preview.longer) < NAMED:
                preview.longer.append((row, format_number(number), f"{segments} segments"))
        if encoding != GSM7 and base.encoding == GSM7:
            preview.ucs2_total += 1
            if len(preview.ucs2) < NAMED:
                because = f" because of “{culprit}”" if culprit else ""
                preview.ucs2.append((row, format_number(number), f"UCS-2{because}"))
    price = price_per_segment()
    if price is not None:
        preview.cost = price * preview.segments
    preview.unknown_names = [n for n in names if n not in (campaign.columns or [])]
    sample_names = contact_names(sample.number for sample in preview.samples)
    for sample in preview.samples:
        sample.name = sample_names.get(sample.number, "")
    return preview


# --- Report ---------------------------------------------------------------------------------------

# The report's status filter: what a person calls each outcome → the rows it covers.
REPORT_FILTERS: dict[str, tuple[str, Q]] = {
    "waiting": ("Waiting", Q(state__in=[RState.PENDING, RState.CLAIMED])),
    "sending": (
        "Sending",
        Q(state=RState.MESSAGED)
        & Q(message__status__in=[Status.SENDING, Status.QUEUED, Status.UNKNOWN]),
    ),
    "sent": ("Sent", Q(state=RState.MESSAGED) & Q(message__status=Status.SENT)),
    "delivered": ("Delivered", Q(message__status=Status.DELIVERED)),
    "failed": ("Failed", Q(message__status=Status.FAILED)),
    "opted_out": ("Opted out during the run", Q(state=RState.OPTED_OUT)),
    "cancelled": ("Cancelled", Q(state=RState.CANCELLED)),
    "removed": ("Removed (all reasons)", Q(state=RState.REMOVED)),
    **{
        f"removed_{reason.value}": (f"Removed: {reason.label}", Q(reason=reason.value))
        for reason in Recipient.Reason
    },
}


def report_rows(campaign: Campaign, status: str = "") -> QuerySet[Recipient]:
    rows = Recipient.objects.filter(campaign=campaign).select_related("message")
    if status in REPORT_FILTERS:
        rows = rows.filter(REPORT_FILTERS[status][1])
    return rows.order_by("row", "id")


def report_page(
    rows: QuerySet[Recipient], *, after: int | None, size: int
) -> tuple[list[Recipient], int | None]:
    """One page in list order (rows after row number `after`), and the row the next page starts
    after (None when this is the last)."""
    if after is not None:
        rows = rows.filter(row__gt=after)
    fetched = list(rows[: size + 1])
    page = fetched[:size]
    return page, (page[-1].row if len(fetched) > size else None)


def recipient_status(recipient: Recipient) -> tuple[str, str]:
    """(key, words) of where a recipient stands: its message's status once it was sent."""
    if recipient.state == RState.MESSAGED and recipient.message is not None:
        status = recipient.message.status or Status.SENDING
        words = Status(status).label if status in Status.values else status.capitalize()
        return status, words
    if recipient.state == RState.REMOVED:
        return "removed", f"Removed: {recipient.get_reason_display()}"
    if recipient.state == RState.CLAIMED:
        return "sending", "Sending"
    return recipient.state, recipient.get_state_display()


def recipient_list_of(campaign: Campaign) -> RecipientList:
    """The list a draft was made from, rebuilt from its rows (to prepare it again after its DIDs
    or cap changed without a new upload). Each row keeps its raw number under the phone column."""
    rows = list(
        Recipient.objects.filter(campaign=campaign)
        .order_by("row")
        .values_list("raw_number", "variables")
    )
    columns = list(campaign.columns or ["phone"])
    phone = next(
        (c for c in columns if all((v or {}).get(c, "") == raw for raw, v in rows)),
        columns[0],
    )
    return RecipientList(
        columns=columns,
        phone_column=phone,
        rows=[{**(v or {}), phone: raw} for raw, v in rows],
    )


# --- Inbox ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CampaignTag:
    campaign_id: int
    name: str


def campaign_tags(numbers: list[str]) -> dict[str, CampaignTag]:
    """For each customer number that was texted by a campaign and replied after that text, the
    latest such campaign: one query for a whole page of conversations."""
    if not numbers:
        return {}
    found: dict[str, CampaignTag] = {}
    for number, campaign_id, name in (
        Recipient.objects.filter(number__in=numbers, message__isnull=False)
        .filter(_replied())
        .order_by("number", "-message_id")
        .values_list("number", "campaign_id", "campaign__name")
    ):
        found.setdefault(number, CampaignTag(campaign_id, name))
    return found
