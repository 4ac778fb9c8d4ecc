"""Messages we sent and received, and every body the carrier POSTed about them."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from messaging.failure_reasons import reason_for
from portal.permissions import meta_permissions
from portal.phones import format_number
from portal.request_context import current_request_id


class Direction(models.TextChoices):
    OUTBOUND = "outbound", "Outbound"
    INBOUND = "inbound", "Inbound"


class Kind(models.TextChoices):
    """The carrier's `type`: a message with media or group recipients is an MMS."""

    SMS = "sms", "SMS"
    MMS = "mms", "MMS"


class Status(models.TextChoices):
    # Ours, before the carrier has answered the send call.
    SENDING = "sending", "Sending"
    # Ours: the send call timed out or failed with a 5xx, so the carrier may or may not have the
    # message. Reconciliation reads the carrier to find out; it is never re-POSTed blindly.
    UNKNOWN = "unknown", "Unknown"
    QUEUED = "queued", "Queued"
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"
    RECEIVED = "received", "Received"
    # Ours: "Send later" holds it until `send_at`; the scheduled task then moves it to sending.
    SCHEDULED = "scheduled", "Scheduled"
    # Ours: a scheduled message called off before it went. Final: it is never sent.
    CANCELLED = "cancelled", "Cancelled"


# Status only moves forward; terminal states share the top rank so they never replace each other.
# Scheduled and cancelled rank above them all: they have no SID and were never at the carrier, so
# no carrier status (a callback or detail record naming the row by user_data) can ever move them;
# only our own scheduled task (scheduled → sending) or a cancel does.
STATUS_RANK = {
    Status.SENDING: 0,
    Status.UNKNOWN: 0,
    Status.QUEUED: 1,
    Status.SENT: 2,
    Status.DELIVERED: 3,
    Status.FAILED: 3,
    Status.RECEIVED: 3,
    Status.SCHEDULED: 4,
    Status.CANCELLED: 4,
}
TERMINAL = {Status.DELIVERED, Status.FAILED, Status.RECEIVED, Status.CANCELLED}


def status_rank(status: str) -> int:
    """Unknown carrier statuses rank below everything we know, so they never move a message."""
    return STATUS_RANK.get(status, -1)


class Message(models.Model):
    message_sid = models.CharField(max_length=64, unique=True, null=True, blank=True)
    direction = models.CharField(max_length=10, choices=Direction.choices)
    our_number = models.CharField("our DID", max_length=20)
    their_number = models.CharField("customer number", max_length=20)
    body = models.TextField(blank=True)
    kind = models.CharField("type", max_length=3, choices=Kind.choices, default=Kind.SMS)
    # Files attached (MessageMedia rows), counted here so lists and exports need no join.
    media_count = models.PositiveSmallIntegerField(default=0)
    # A group MMS: every other participant's number, as the carrier lists them.
    group_recipients = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=20, default=Status.SENDING)
    error = models.TextField(blank=True)
    segments = models.PositiveIntegerField(null=True, blank=True)
    price = models.DecimalField(max_digits=10, decimal_places=5, null=True, blank=True)
    mcc = models.PositiveIntegerField(null=True, blank=True)
    mnc = models.PositiveIntegerField(null=True, blank=True)
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    # Set on an auto-reply: unique, so no inbound message is ever answered twice.
    auto_reply_to = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="auto_reply"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    # "Send later": when a scheduled message is due (status scheduled until then). Kept after it
    # goes, so its page can say when it was scheduled for.
    send_at = models.DateTimeField(null=True, blank=True)
    # How many times we POSTed it to the carrier (retries only where it cannot have arrived).
    send_attempts = models.PositiveSmallIntegerField(default=0)
    # Sent a second time after the carrier provably had no copy of an unknown first send.
    resent = models.BooleanField(default=False)
    # Reconciliation could not settle it: staff should look.
    needs_attention = models.BooleanField(default=False)
    # The request that created it (a click on Send, a callback): the worker's and the carrier
    # calls' log lines about this message carry it too (portal/request_context.py).
    request_id = models.CharField(max_length=64, blank=True, default=current_request_id)
    # From the carrier's detail record of it (messaging/services/detail_records.py): the record's
    # SID (unique, so no record ever makes or matches two messages), seconds between the carrier
    # taking it and sending it, and the carrier's code for why it failed.
    dr_sid = models.CharField(max_length=64, unique=True, null=True, blank=True)
    delay_sent = models.PositiveIntegerField(null=True, blank=True)
    vendor_error_code = models.CharField(max_length=32, blank=True)
    vendor_error_reason = models.CharField(max_length=300, blank=True)
    # Made from the carrier's records: its callback never reached us.
    recovered = models.BooleanField(default=False)

    class Meta:
        ordering = ["-id"]
        indexes = [
            # A conversation's thread, and its live poll ("changed since").
            models.Index(fields=["their_number", "id"], name="message_thread"),
            models.Index(fields=["their_number", "updated_at"], name="message_thread_changes"),
            # The Messages list's common filters, newest first (keyset on id), and date ranges.
            models.Index(fields=["our_number", "id"], name="message_did_recent"),
            models.Index(fields=["status", "id"], name="message_status_recent"),
            models.Index(fields=["created_at"], name="message_created"),
        ]
        permissions = meta_permissions("messaging", "message")

    def __str__(self) -> str:
        return f"{self.get_direction_display()} {self.message_sid or self.pk} ({self.status})"

    @property
    def our_formatted(self) -> str:
        return format_number(self.our_number)

    @property
    def their_formatted(self) -> str:
        return format_number(self.their_number)

    @property
    def is_final(self) -> bool:
        return self.status in TERMINAL

    @property
    def failure_line(self) -> str:
        """Why it failed, in one line for lists and threads: the carrier's code and what it means
        (messaging/failure_reasons.py), else our own reason, else that none was given."""
        if self.vendor_error_code:
            known = reason_for(self.vendor_error_code)
            meaning = known.meaning if known else self.vendor_error_reason or "meaning not known"
            return f"Error {self.vendor_error_code}: {meaning}"
        if self.error:
            return self.error if len(self.error) <= 160 else self.error[:159] + "…"
        return "CarrierX gave no reason."

    @property
    def is_scheduled(self) -> bool:
        return self.status == Status.SCHEDULED


class SavedReply(models.Model):
    """A text the team sends often, with `{placeholders}` (messaging/text_templates.py), picked
    from the composers and used by campaigns. One list for the whole portal, names unique."""

    name = models.CharField(max_length=100, unique=True)
    body = models.TextField(max_length=1600)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name_plural = "saved replies"

    def __str__(self) -> str:
        return self.name


def media_token() -> str:
    """The unguessable part of a file's URL: 192 random bits."""
    return secrets.token_urlsafe(24)


def media_path(media: MessageMedia, filename: str) -> str:
    return f"mms/{media.token[:2]}/{media.token}/{filename}"


def thumbnail_path(media: MessageMedia, filename: str) -> str:
    return f"mms/{media.token[:2]}/{media.token}/thumb-{filename}"


class MediaState(models.TextChoices):
    # Our copy is stored: outbound attachments from the start, inbound once downloaded.
    STORED = "stored", "Stored"
    # Inbound: the download task has not fetched it yet (or is retrying).
    PENDING = "pending", "Downloading"
    # Inbound: every download attempt failed; `source_url` still points at the carrier's copy.
    FAILED = "failed", "Not downloaded"


class MessageMedia(models.Model):
    """One file of an MMS, in either direction, with our own copy of it.

    Outbound, the carrier fetches `public_url` (no sign-in: it cannot sign in); inbound, the
    carrier's `source_url` may expire, so the file is downloaded and kept.
    """

    # No index of its own: the unique (message, position) pair leads with it and serves every
    # lookup by message; a second index only cost the webhook a write per file (issue 14).
    message = models.ForeignKey(
        Message, on_delete=models.CASCADE, related_name="media", db_index=False
    )
    position = models.PositiveSmallIntegerField()
    token = models.CharField(max_length=64, default=media_token)  # unique: see Meta
    source_url = models.TextField(blank=True)
    file = models.FileField(upload_to=media_path, max_length=255, blank=True)
    thumbnail = models.FileField(upload_to=thumbnail_path, max_length=255, blank=True)
    name = models.CharField(max_length=200, blank=True)
    content_type = models.CharField(max_length=100, blank=True)
    size = models.PositiveIntegerField(null=True, blank=True)
    state = models.CharField(max_length=10, choices=MediaState.choices)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.CharField(max_length=300, blank=True)
    # Inbound, pending: not to be fetched before this time (a retry's backoff, or a download run
    # that has claimed it); empty when it may be fetched now.
    retry_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["message_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["message", "position"], name="one_file_per_position"),
            # A constraint rather than `unique=True`, which on PostgreSQL adds a second index for
            # LIKE queries: a token is only ever looked up whole, and each index is a write per
            # file in the webhook (issue 14).
            models.UniqueConstraint(fields=["token"], name="messagemedia_token_unique"),
        ]
        indexes = [
            # The download task's queue: the few files still pending, oldest first, without
            # reading every file ever kept.
            models.Index(
                fields=["id"], condition=models.Q(state="pending"), name="messagemedia_pending"
            )
        ]
        verbose_name_plural = "message media"

    def __str__(self) -> str:
        return f"{self.name or self.token} ({self.content_type or '?'})"

    @property
    def public_url(self) -> str:
        """Where the carrier fetches an outbound file: under PUBLIC_URL, no sign-in."""
        name = self.name or f"file.{self.content_type.rpartition('/')[2] or 'bin'}"
        return settings.PUBLIC_URL + reverse("public_media", args=[self.token, name])

    @property
    def is_image(self) -> bool:
        # SVG is XML that can carry script: never shown inline, whatever its type says.
        return self.content_type in INLINE_IMAGE_TYPES

    @property
    def is_audio(self) -> bool:
        return self.content_type.startswith("audio/")

    @property
    def is_video(self) -> bool:
        return self.content_type.startswith("video/")


# Shown inline in the inbox; every other type is offered as a download only.
INLINE_IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})


class CarrierEvent(models.Model):
    """One POST from the carrier, kept exactly as it arrived: nothing it sends is thrown away.

    An accepted body was valid UTF-8 JSON, so `body` holds it exactly. A rejected one may be any
    bytes (invalid UTF-8, NUL, which PostgreSQL refuses in text): `raw` then holds the exact bytes
    (binary, not base64: no decoding step to get wrong, and half the size) and `body` a readable,
    storable copy. `raw_bytes()` gives the original either way.
    """

    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    body = models.TextField()
    raw = models.BinaryField(null=True, blank=True)
    message_sid = models.CharField(max_length=64, blank=True, db_index=True)
    status = models.CharField(max_length=40, blank=True)
    outcome = models.CharField(max_length=200, blank=True)
    # Answered 4xx: it can never apply (the outcome says why), but it is kept.
    rejected = models.BooleanField(default=False)
    # Over the webhook's 64 KB limit: only the first 64 KB are kept.
    truncated = models.BooleanField(default=False)
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )

    class Meta:
        ordering = ["-id"]
        # The table keeps the model's first name: renaming it would gain nothing.
        db_table = "messaging_callbackevent"

    def __str__(self) -> str:
        return f"{self.message_sid or '?'} {self.status or '?'}: {self.outcome}"

    def raw_bytes(self) -> bytes:
        return bytes(self.raw) if self.raw is not None else self.body.encode("utf-8")


class Conversation(models.Model):
    """Everything between us and one customer number, across all of our DIDs.

    Kept up to date as messages arrive and change, so the inbox lists conversations without
    scanning or counting the message table.
    """

    class State(models.TextChoices):
        OPEN = "open", "Open"
        DONE = "done", "Done"

    customer_number = models.CharField(max_length=20, unique=True)
    last_message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_activity_at = models.DateTimeField()
    # The DID the customer last wrote to: where a reply should come from.
    last_inbound_did = models.CharField(max_length=20, blank=True)
    unread_count = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)
    # The team inbox: open until someone marks it done; a new inbound text reopens it.
    # db_default: the webhook's upsert (services/carrier_events.py) inserts rows in raw SQL.
    state = models.CharField(
        max_length=4, choices=State.choices, default=State.OPEN, db_default=State.OPEN
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_conversations",
    )
    state_changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["-last_activity_at", "-id"], name="conversation_recent"),
            # The inbox's Mine / Unassigned / Done lists, newest first, each one index seek.
            models.Index(
                fields=["assignee", "state", "-last_activity_at", "-id"],
                name="conversation_assignee_recent",
            ),
            models.Index(
                fields=["state", "-last_activity_at", "-id"],
                condition=models.Q(assignee__isnull=True),
                name="conversation_unassigned",
            ),
            models.Index(
                fields=["state", "-last_activity_at", "-id"], name="conversation_state_recent"
            ),
            # The nav's unread badge counts these on every page.
            models.Index(
                fields=["id"], condition=models.Q(unread_count__gt=0), name="conversation_unread"
            ),
        ]

    # The customer's contact name, where one is known: set by the reads that show conversations
    # (messaging/selectors/conversations.py), one query for a whole page.
    contact_name = ""

    def __str__(self) -> str:
        return self.customer_formatted

    @property
    def customer_formatted(self) -> str:
        return format_number(self.customer_number)

    @property
    def display_name(self) -> str:
        """How the portal names the customer: their contact name, else their number."""
        return self.contact_name or self.customer_formatted


class ConversationEvent(models.Model):
    """Who did what to a conversation (assigned, took it, marked it done, reopened): the thread
    shows these as small system lines between the messages."""

    class Kind(models.TextChoices):
        ASSIGNED = "assigned", "assigned"
        UNASSIGNED = "unassigned", "unassigned"
        TAKEN = "taken", "took"  # the first teammate to reply to an unassigned conversation
        DONE = "done", "marked done"
        REOPENED = "reopened", "reopened"

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    # None: the portal itself (an inbound text reopened a done conversation).
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["conversation", "created_at"], name="conversation_event_at"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.created_at:%Y-%m-%d %H:%M}"


class ConsentEvent(models.Model):
    """The consent record 10DLC reviewers ask for: every opt-in and opt-out of a customer number,
    per DID, with how and when. Append-only; `OptOut` keeps the current standing."""

    class Kind(models.TextChoices):
        OPT_IN = "opt_in", "Opted in"
        OPT_OUT = "opt_out", "Opted out"

    class Method(models.TextChoices):
        KEYWORD = "keyword", "Texted a keyword"
        IMPORT = "import", "Imported"
        STAFF = "staff", "Added by staff"

    customer_number = models.CharField(max_length=20)
    # Blank: every one of our DIDs (an import or a staff entry not tied to one DID).
    our_number = models.CharField("our DID", max_length=20, blank=True)
    kind = models.CharField(max_length=7, choices=Kind.choices)
    method = models.CharField(max_length=7, choices=Method.choices)
    # The keyword texted (STOP, START), the import's consent source, or the staff member's reason.
    detail = models.CharField(max_length=300, blank=True)
    # When the customer consented (or opted out): the message's time, or the date an import gives.
    consented_at = models.DateTimeField()
    recorded_at = models.DateTimeField(default=timezone.now)
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["consented_at", "id"]
        indexes = [
            models.Index(fields=["customer_number", "consented_at"], name="consent_customer_at"),
            models.Index(fields=["consented_at", "id"], name="consent_at"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_number} {self.get_kind_display()} ({self.get_method_display()})"


class AutoReply(models.Model):
    """The tutorial's callback app, built in: answer every inbound SMS on one of our DIDs."""

    did = models.OneToOneField("numbers.Did", on_delete=models.CASCADE, related_name="auto_reply")
    enabled = models.BooleanField(default=False)
    template = models.CharField(max_length=1600, default="The SMS status is: {status}")
    min_interval_minutes = models.PositiveIntegerField(
        default=60, help_text="Answer one customer at most once in this many minutes."
    )

    class Meta:
        verbose_name_plural = "auto-replies"

    def __str__(self) -> str:
        return f"Auto-reply on {self.did} ({'on' if self.enabled else 'off'})"


class CarrierHealth(models.Model):
    """One row: how our recent calls to the carrier went, so the Messaging page can say when the
    carrier is unavailable instead of queueing silently."""

    ROW = 1

    consecutive_failures = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.consecutive_failures} consecutive failures"


class OptOut(models.Model):
    """A customer's STOP (or START) for one of our DIDs: the latest keyword wins."""

    customer_number = models.CharField(max_length=20)
    our_number = models.CharField("our DID", max_length=20)
    opted_out = models.BooleanField(default=True)
    keyword = models.CharField(max_length=20)
    changed_at = models.DateTimeField()
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["customer_number", "our_number"], name="one_opt_out_per_customer_and_did"
            )
        ]

    def __str__(self) -> str:
        state = "opted out of" if self.opted_out else "opted in to"
        return f"{format_number(self.customer_number)} {state} {format_number(self.our_number)}"


class SenderProfile(models.Model):
    """Which of our DIDs a person may send from (none chosen: all), and the one preselected."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sender_profile"
    )
    allowed_dids = models.ManyToManyField(
        "numbers.Did",
        blank=True,
        related_name="+",
        help_text="Leave empty to allow every SMS DID.",
    )
    default_did = models.ForeignKey(
        "numbers.Did", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"Sending DIDs of {self.user}"


class SendingDefaults(models.Model):
    """One row, edited in admin: the From DID preselected for everyone whose own sender profile
    names none (a person's own default still wins)."""

    ROW = 1

    default_did = models.ForeignKey(
        "numbers.Did",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name="default From DID",
        help_text="Preselected on Messaging for people without a default DID of their own.",
    )

    class Meta:
        verbose_name = verbose_name_plural = "sending defaults"

    def __str__(self) -> str:
        return "Sending defaults"

    @classmethod
    def default_number(cls) -> str | None:
        row = cls.objects.filter(pk=cls.ROW).select_related("default_did").first()
        return row.default_did.phonenumber if row and row.default_did else None


class DetailRecordSync(models.Model):
    """One row: where the last sync of the carrier's detail records stopped, and how it went."""

    ROW = 1

    # The last record read in the carrier's insertion order: the next sync starts after it.
    last_dr_sid = models.CharField(max_length=64, blank=True)
    last_date_insert = models.DateTimeField(null=True, blank=True)
    # Records that ended after this moment are read again (inserted earlier, finished since).
    stopped_since = models.DateTimeField(null=True, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    records_read = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"Detail records read up to {self.last_dr_sid or '(none yet)'}"


class DetailRecordRecovery(models.Model):
    """What the detail records told us that callbacks did not, per DID and direction: inbound
    texts we never heard of, outbound ones whose final status never came. The times are the
    carrier's (when the messages were handled), so they say when callbacks were being lost."""

    our_number = models.CharField("our DID", max_length=20)
    direction = models.CharField(max_length=10, choices=Direction.choices)
    count = models.PositiveIntegerField(default=0)
    first_at = models.DateTimeField()
    last_at = models.DateTimeField()
    recovered_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["our_number", "direction"], name="one_recovery_count_per_did_and_direction"
            )
        ]

    def __str__(self) -> str:
        return f"{self.count} {self.direction} on {format_number(self.our_number)}"


class NumberLookup(models.Model):
    """What the carrier's lookup said of a customer number (CARRIERX-MORE.md §6), kept so the
    composer can warn about a landline without calling the carrier while someone types: a
    lookup is asked for in the background (messaging/services/lookups.py) and read from here."""

    class LineType(models.TextChoices):
        MOBILE = "mobile", "Mobile"
        LANDLINE = "landline", "Landline"
        VOIP = "voip", "VoIP"
        UNKNOWN = "", "Not known"

    number = models.CharField(max_length=20, unique=True)
    line_type = models.CharField(max_length=10, choices=LineType.choices, blank=True)
    carrier_name = models.CharField(max_length=200, blank=True)
    # Empty until the background lookup has answered.
    looked_up_at = models.DateTimeField(null=True, blank=True)
    requested_at = models.DateTimeField()
    error = models.CharField(max_length=300, blank=True)

    def __str__(self) -> str:
        return f"{format_number(self.number)}: {self.line_type or 'not known'}"

    @property
    def is_landline(self) -> bool:
        return self.line_type == self.LineType.LANDLINE

    @property
    def formatted(self) -> str:
        return format_number(self.number)
