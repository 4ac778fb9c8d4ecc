"""The sandbox carrier's own state: its partner (account), DID groups, rented DIDs, messages,
and a log of every callback it fired. None of this is the portal's data; the portal only sees it
over HTTP.

Text fields that the carrier writes as `null` when unset (`callback_url`, `string_key_1`,
`user_data`, …) are nullable here (noqa: DJ001), so `null` and `""` round-trip as the carrier's do.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone


def new_sid() -> str:
    return str(uuid.uuid4())


class SandboxPartner(models.Model):
    class FieldNaming(models.TextChoices):
        # 2021 tutorial accounts see from_did/to_did; accounts on the 2023+ docs see from/to.
        LEGACY = "legacy", "legacy (from_did/to_did)"
        CURRENT = "current", "current (from/to)"

    partner_sid = models.CharField(max_length=36, unique=True, default=new_sid)
    name = models.CharField(max_length=200)
    display_id = models.CharField(max_length=20, blank=True)
    login = models.CharField(max_length=100, blank=True)
    company_name = models.CharField(max_length=200, blank=True)
    balance = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    status = models.CharField(max_length=20, default="active")
    # Event type → URL, as the carrier's Partner object holds it (see CARRIERX.md §5.2).
    callbacks = models.JSONField(default=dict, blank=True)
    field_naming = models.CharField(
        max_length=10, choices=FieldNaming.choices, default=FieldNaming.LEGACY
    )
    date_created = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.name} ({self.partner_sid})"


class SandboxDidGroup(models.Model):
    did_group_sid = models.CharField(max_length=36, unique=True, default=new_sid)
    partner = models.ForeignKey(SandboxPartner, on_delete=models.CASCADE, related_name="did_groups")
    name = models.CharField(max_length=200, default="N/A")
    callback_url = models.CharField(max_length=2048, null=True, blank=True)  # noqa: DJ001

    def __str__(self) -> str:
        return self.name


class SandboxDid(models.Model):
    """A number the sandbox carrier has: in its inventory (`available`, no partner), rented by the
    partner (`assigned`), or released and `aging` (no partner, not rentable until the aging period
    is over; see sandbox/numbers.py)."""

    # Capability bits, as CarrierX sums them in `capabilities` / `active_capabilities`.
    RECEIVE_SMS = 1
    SEND_SMS = 2
    VOICE = 4
    RECEIVE_MMS = 8
    SEND_MMS = 16
    MESSAGING = RECEIVE_SMS | SEND_SMS | RECEIVE_MMS | SEND_MMS  # 27

    class Status(models.TextChoices):
        AVAILABLE = "available"
        ASSIGNED = "assigned"
        AGING = "aging"

    class Messaging(models.TextChoices):
        DISABLED = "disabled"
        IN_PROGRESS = "in_progress"
        ENABLED = "enabled"
        FAILED = "failed"

    did_sid = models.CharField(max_length=36, unique=True, default=new_sid)
    partner = models.ForeignKey(
        SandboxPartner, on_delete=models.CASCADE, null=True, blank=True, related_name="dids"
    )
    did_group = models.ForeignKey(
        SandboxDidGroup, on_delete=models.SET_NULL, null=True, blank=True, related_name="dids"
    )
    phonenumber = models.CharField(max_length=15, unique=True)
    name = models.CharField(max_length=200, default="N/A")
    capabilities = models.PositiveSmallIntegerField(default=7)
    active_capabilities = models.PositiveSmallIntegerField(default=7)
    callback_url = models.CharField(max_length=2048, null=True, blank=True)  # noqa: DJ001
    attributes = models.JSONField(default=dict, blank=True)
    string_key_1 = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    string_key_2 = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    country_code = models.CharField(max_length=3, default="USA")
    state = models.CharField(max_length=50, null=True, blank=True)  # noqa: DJ001
    locality = models.CharField(max_length=100, null=True, blank=True)  # noqa: DJ001
    price = models.CharField(max_length=12, default="0.6")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ASSIGNED)
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    released_at = models.DateTimeField(null=True, blank=True)
    # The Messaging Enablement object (CARRIERX-MORE.md §3.2), one per DID.
    messaging_enabled = models.BooleanField(default=False)
    messaging_status = models.CharField(
        max_length=12, choices=Messaging.choices, default=Messaging.DISABLED
    )
    messaging_type = models.CharField(max_length=3, null=True, blank=True)  # noqa: DJ001
    campaign_sid = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    p2p_nnid = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    messaging_reason = models.CharField(max_length=300, null=True, blank=True)  # noqa: DJ001
    # Bumped by every enablement request and release, so a step scheduled for an older request
    # does nothing when it runs.
    messaging_revision = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.phonenumber

    def can(self, capability: int) -> bool:
        """Whether the capability is switched on now (not merely possible for the number)."""
        return bool(self.active_capabilities & capability)

    def _parsed(self) -> phonenumbers.PhoneNumber | None:
        try:
            return phonenumbers.parse("+" + self.phonenumber, None)
        except phonenumbers.NumberParseException:
            return None

    @property
    def in_country_format(self) -> str:
        parsed = self._parsed()
        if parsed is None:
            return self.phonenumber
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)

    @property
    def international_format(self) -> str:
        parsed = self._parsed()
        if parsed is None:
            return "+" + self.phonenumber
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


class SandboxMessage(models.Model):
    class Direction(models.TextChoices):
        INBOUND = "inbound"
        OUTBOUND = "outbound"

    class Status(models.TextChoices):
        QUEUED = "queued"
        SENT = "sent"
        DELIVERED = "delivered"
        FAILED = "failed"
        RECEIVED = "received"

    # What the sandbox charges per SMS part, in USD; the real rate depends on route and campaign.
    PRICE_PER_SEGMENT = Decimal("0.0075")
    # What it charges per MMS, in USD: one message, whatever its text length or number of files
    # (an MMS is always one segment), times each recipient ("the sender is charged for each
    # outbound message individually", CARRIERX-MORE.md §4.2).
    PRICE_PER_MMS = Decimal("0.02")

    class Type(models.TextChoices):
        SMS = "sms", "SMS"
        MMS = "mms", "MMS"

    message_sid = models.CharField(max_length=36, unique=True, default=new_sid)
    partner = models.ForeignKey(SandboxPartner, on_delete=models.CASCADE, related_name="messages")
    direction = models.CharField(max_length=10, choices=Direction.choices)
    from_number = models.CharField(max_length=15, db_index=True)
    to_number = models.CharField(max_length=15, db_index=True)
    message = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices)
    message_segments = models.PositiveSmallIntegerField(default=1)
    price = models.DecimalField(max_digits=10, decimal_places=5, null=True, blank=True)
    mcc = models.PositiveSmallIntegerField(null=True, blank=True)
    mnc = models.PositiveSmallIntegerField(null=True, blank=True)
    user_data = models.CharField(max_length=1024, null=True, blank=True)  # noqa: DJ001
    type = models.CharField(max_length=3, choices=Type.choices, default=Type.SMS)
    # Outbound: the URLs as the partner sent them. Inbound: the sandbox's storage URLs of the files
    # it keeps (set once they are stored).
    media_urls = models.JSONField(default=list, blank=True)
    group_recipients = models.JSONField(default=list, blank=True)
    # Why the sandbox failed the message (a media file it could not fetch, say), shown as the
    # callback's `error_message`; empty otherwise.
    error_message = models.CharField(max_length=500, blank=True)
    date_created = models.DateTimeField(default=timezone.now)
    date_changed = models.DateTimeField(default=timezone.now)
    date_status_changed = models.DateTimeField(null=True, blank=True)
    # Outbound sent through the API: when the request reached the sandbox, before any injected
    # latency (`date_created` comes after it). Not a carrier field; bench/bench_campaign.py reads
    # each DID's send rate from it, as a carrier's rate limiter would see it.
    received_at = models.DateTimeField(null=True, blank=True)
    # Its detail record (`GET /sms/message_drs`, sandbox/detail_records.py) is this row seen from
    # the billing side: its own SID, inserted with the message (`date_insert` = `date_created`),
    # updated as the message moves.
    dr_sid = models.CharField(max_length=36, unique=True, default=new_sid)
    # When it left for the handset's network (outbound), or reached ours (inbound).
    date_sent = models.DateTimeField(null=True, blank=True)
    # When it ended, with any status (delivered, failed, received).
    date_stop = models.DateTimeField(null=True, blank=True, db_index=True)
    # Why it failed, as a code of sandbox/detail_records.py's ERROR_CODES; null otherwise.
    vendor_error_code = models.CharField(max_length=10, null=True, blank=True)  # noqa: DJ001

    class Meta:
        ordering = ["date_created", "pk"]
        indexes = [models.Index(fields=["date_created", "id"], name="sandbox_message_inserted")]

    def __str__(self) -> str:
        return f"{self.direction} {self.from_number} → {self.to_number} ({self.status})"

    @property
    def our_number(self) -> str:
        """The partner's DID in this conversation: the sender of outbound, receiver of inbound."""
        return self.from_number if self.direction == self.Direction.OUTBOUND else self.to_number

    def charge(self) -> Decimal:
        """SMS: per segment. MMS: per message; an outbound group message once per recipient."""
        if self.type != self.Type.MMS:
            return self.PRICE_PER_SEGMENT * self.message_segments
        if self.direction == self.Direction.INBOUND:
            return self.PRICE_PER_MMS
        recipients = {self.to_number, *self.group_recipients} - {self.from_number}
        return self.PRICE_PER_MMS * max(1, len(recipients))


class SandboxMedia(models.Model):
    """A file the sandbox keeps, as CarrierX Storage keeps MMS media: fetched from an outbound
    message's `media_urls`, or sent by a handset (inbound). Served without sign-in at
    `/sandbox/storage/f/<uuid>` (sandbox/media_views.py): the uuid4 is the only key, as on the
    carrier's `storage.carrierx.com/f/<sid>` links."""

    uuid = models.UUIDField(unique=True, default=uuid.uuid4, editable=False)
    message = models.ForeignKey(
        SandboxMessage, on_delete=models.CASCADE, null=True, blank=True, related_name="media"
    )
    direction = models.CharField(max_length=10, choices=SandboxMessage.Direction.choices)
    content_type = models.CharField(max_length=100)
    name = models.CharField(max_length=200)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    data = models.BinaryField()
    # Where the sandbox fetched it from; empty for an uploaded file.
    source_url = models.CharField(max_length=2048, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["pk"]
        verbose_name_plural = "sandbox media"

    def __str__(self) -> str:
        return f"{self.name} ({self.content_type}, {self.size} bytes)"

    @property
    def inline(self) -> bool:
        """Whether a browser may show it in the page (pictures, sound, video) rather than only
        download it."""
        return self.content_type.split("/")[0] in ("image", "audio", "video")

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")


class SandboxCallbackAttempt(models.Model):
    """One POST the sandbox made to a callback URL, kept so people and tests can see what fired."""

    # The message it was about; None for the partner's number callbacks (`event`).
    message = models.ForeignKey(
        SandboxMessage,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="callback_attempts",
    )
    # The partner callback key it went to: sms, phonenumber_messaging_update, phonenumber_order.
    event = models.CharField(max_length=40, default="sms")
    url = models.CharField(max_length=2048)
    request_body = models.JSONField()
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        outcome = self.response_status or self.error or "?"
        return f"{self.request_body.get('status')} → {self.url} ({outcome})"


SHARE = [MinValueValidator(0), MaxValueValidator(1)]


class SandboxFaults(models.Model):
    """What goes wrong at the sandbox carrier, on purpose (see sandbox/faults.py). One row, pk 1,
    so every process (web servers answering the API, task workers) sees the same faults; without
    the row the defaults come from settings.SANDBOX_FAULTS.

    Shares are probabilities per request in scope; at most one fault hits a request, so they add
    up to at most 1.
    """

    class Scope(models.TextChoices):
        SEND = "send", "POST /sms/messages only"
        ALL = "all", "every Core API request"

    ROW = 1
    # The faults a request can draw, in the order the draw tries them.
    SHARES = ("rate_limit", "rate_limit_no_retry_after", "error_before", "timeout_after", "drop")

    rate_limit = models.FloatField(default=0, validators=SHARE)
    rate_limit_no_retry_after = models.FloatField(default=0, validators=SHARE)
    retry_after_seconds = models.PositiveIntegerField(default=1)
    error_before = models.FloatField(default=0, validators=SHARE)
    timeout_after = models.FloatField(default=0, validators=SHARE)
    # Longer than the portal's default read timeout (20 s), so its client gives up first.
    timeout_seconds = models.FloatField(default=25.0, validators=[MinValueValidator(0)])
    drop = models.FloatField(default=0, validators=SHARE)
    # Of the dropped requests, the share processed first (the message exists; the answer is cut
    # mid-body); the rest are cut before processing (nothing created, no answer at all).
    drop_after_processing = models.FloatField(default=0.5, validators=SHARE)
    latency_seconds = models.FloatField(default=0, validators=[MinValueValidator(0)])
    apply_to = models.CharField(max_length=4, choices=Scope.choices, default=Scope.SEND)
    # Set: the draws repeat from this seed (reseeded at every change); None: random.random().
    seed = models.BigIntegerField(null=True, blank=True)
    changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "sandbox faults"

    def __str__(self) -> str:
        return "Sandbox faults"

    def clean(self) -> None:
        total = sum(getattr(self, name) or 0 for name in self.SHARES)
        if total > 1 + 1e-9:  # float sums of tenths overshoot 1 a little
            raise ValidationError(f"the shares of {', '.join(self.SHARES)} add up to {total:g} > 1")
