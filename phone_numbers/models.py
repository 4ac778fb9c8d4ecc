"""A local cache of what the carrier knows about our numbers. CarrierX stays the source of truth:
`numbers.services.numbers_sync` pulls, and every change is sent to the carrier first. What is ours
alone: the audit of callback changes (`CallbackChange`) and each number's campaign pace
(`Did.send_rate`), which no sync touches."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F
from django.urls import reverse

from portal.permissions import meta_permissions
from portal.phones import format_number

# The carrier's capability bits (1 SMS in, 2 SMS out, 4 voice, 8 MMS in, 16 MMS out).
CAP_SMS_IN = 1
CAP_SMS_OUT = 2
CAP_MMS_IN = 8
CAP_MMS_OUT = 16
# Either SMS bit: a number the carrier sends SMS callbacks for. Voice-only numbers have neither,
# so where their callback points does not matter.
CAP_SMS = CAP_SMS_IN | CAP_SMS_OUT


class Partner(models.Model):
    partner_sid = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200, blank=True)
    callbacks = models.JSONField(default=dict, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name or self.partner_sid

    @property
    def sms_callback_url(self) -> str:
        return (self.callbacks or {}).get("sms") or ""


class DidGroup(models.Model):
    did_group_sid = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200, blank=True)
    callback_url = models.CharField(max_length=2048, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name or self.did_group_sid

    def get_absolute_url(self) -> str:
        return reverse("numbers:group_detail", args=[self.did_group_sid])


class DidQuerySet(models.QuerySet):
    def sms_capable(self) -> DidQuerySet:
        """Numbers we can send from: the carrier says SMS-out is both possible and enabled."""
        return self.alias(sms_out=F("active_capabilities").bitand(CAP_SMS_OUT)).filter(
            sms_out__gt=0, released_at__isnull=True
        )

    def texting(self) -> DidQuerySet:
        """Numbers that send or receive SMS: the ones whose callback must reach us."""
        return self.alias(sms=F("active_capabilities").bitand(CAP_SMS)).filter(
            sms__gt=0, released_at__isnull=True
        )

    def rented(self) -> DidQuerySet:
        return self.filter(released_at__isnull=True)


class Did(models.Model):
    did_sid = models.CharField(max_length=64, unique=True)
    phonenumber = models.CharField(max_length=20, unique=True)
    name = models.CharField(max_length=200, blank=True)
    capabilities = models.PositiveIntegerField(default=0)
    active_capabilities = models.PositiveIntegerField(default=0)
    callback_url = models.CharField(max_length=2048, blank=True)
    partner_sid = models.CharField(max_length=64, blank=True)
    group = models.ForeignKey(
        DidGroup, null=True, blank=True, on_delete=models.SET_NULL, related_name="dids"
    )
    raw = models.JSONField(default=dict, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)
    # Set when we released it: the row stays so its messages still name it (shown "released").
    released_at = models.DateTimeField(null=True, blank=True)
    # The carrier's Messaging Enablement object (GET /phonenumber/dids/{sid}/messaging), as last
    # read or as the phonenumber_messaging_update callback told us. Empty status: never read.
    messaging_enabled = models.BooleanField(default=False)
    messaging_status = models.CharField(max_length=20, blank=True)
    messaging_type = models.CharField(max_length=10, blank=True)
    campaign_sid = models.CharField(max_length=64, blank=True)
    # When the status last changed: "in_progress" for long means the enablement is stuck.
    messaging_status_at = models.DateTimeField(null=True, blank=True)
    # Why it failed, in the carrier's words when it gave any.
    messaging_reason = models.TextField(blank=True)
    # Campaign pacing: at most this many messages a second from this number (the carrier and the
    # mobile networks throttle or filter a number that sends faster than its registration allows).
    send_rate = models.DecimalField(
        "messages per second",
        max_digits=6,
        decimal_places=2,
        default=1,
        validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(Decimal("1000"))],
    )

    objects = DidQuerySet.as_manager()

    class Meta:
        ordering = ["phonenumber"]
        verbose_name = "DID"
        permissions = meta_permissions("numbers", "did")

    def __str__(self) -> str:
        return self.formatted

    def get_absolute_url(self) -> str:
        return reverse("numbers:detail", args=[self.did_sid])

    @property
    def formatted(self) -> str:
        return format_number(self.phonenumber)

    @property
    def label(self) -> str:
        """How a DID reads in a dropdown: the number, then its name when it has one."""
        if self.name and self.name != "N/A":
            return f"{self.formatted} — {self.name}"
        return self.formatted

    @property
    def can_send_sms(self) -> bool:
        return bool(self.active_capabilities & CAP_SMS_OUT)

    @property
    def can_receive_sms(self) -> bool:
        return bool(self.active_capabilities & CAP_SMS_IN)

    @property
    def can_send_mms(self) -> bool:
        return bool(self.active_capabilities & CAP_MMS_OUT)

    @property
    def locality(self) -> str:
        return str((self.raw or {}).get("locality") or "")

    @property
    def state(self) -> str:
        return str((self.raw or {}).get("state") or "")

    @property
    def released(self) -> bool:
        return self.released_at is not None

    @property
    def texts(self) -> bool:
        """Sends or receives SMS, so the carrier sends SMS callbacks for it."""
        return bool(self.active_capabilities & CAP_SMS)


class SyncRun(models.Model):
    """One full re-read of the carrier, so the list can say when the cache was last refreshed
    (a single DID stored after an edit is not a sync)."""

    finished_at = models.DateTimeField()
    dids = models.PositiveIntegerField()
    groups = models.PositiveIntegerField()
    removed = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-finished_at"]
        get_latest_by = "finished_at"

    def __str__(self) -> str:
        return f"sync at {self.finished_at:%Y-%m-%d %H:%M:%S} ({self.dids} DIDs)"


class SyncStatus(models.Model):
    """How the last re-read of the carrier went, in one row (pk 1) that every page reads.

    Pages never call the carrier: they show this copy, say how old it is and whether the last try
    failed. A failed try is kept here (when, the carrier's reason) and retried by the background
    task, so a dead carrier costs a page load nothing.
    """

    ROW = 1

    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    # The carrier's reason when the last attempt failed; empty when it worked.
    last_error = models.TextField(blank=True)
    # Attempts failed in a row: the retry waits longer after each.
    failures = models.PositiveIntegerField(default=0)
    attempts = models.PositiveIntegerField(default=0)
    # SMS numbers whose effective callback is not this portal's webhook, counted when the cache
    # last changed, so the warning banner on every page costs one row read.
    callbacks_astray = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = "sync status"
        verbose_name_plural = "sync status"

    def __str__(self) -> str:
        return f"last sync attempt {self.last_attempt_at}: {self.last_error or 'ok'}"

    @property
    def failing(self) -> bool:
        return bool(self.last_error)


class CallbackChange(models.Model):
    """Every attempt to change a callback URL or a DID's group, whatever the carrier answered.

    Written before the carrier is called (answer "pending") and completed after, so a crash never
    hides that we tried. Objects are referred to by SID and label, not by foreign key: the audit
    outlives a DID we stop renting or a group that is deleted at the carrier.
    """

    PENDING = "pending"
    ACCEPTED = "accepted"

    class Kind(models.TextChoices):
        DID = "did", "DID"
        GROUP = "group", "DID Group"
        PARTNER = "partner", "Partner"

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    # Kept as text too, so the row still says who after the account is deleted.
    username = models.CharField(max_length=150, blank=True)
    object_kind = models.CharField(max_length=10, choices=Kind.choices)
    object_sid = models.CharField(max_length=64, db_index=True)
    label = models.CharField(max_length=200, blank=True)
    field = models.CharField(max_length=50)
    old_value = models.TextField(blank=True)
    new_value = models.TextField(blank=True)
    # "pending" while the carrier is being asked, then "accepted" or the carrier's reason.
    carrier_answer = models.TextField(default=PENDING)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "callback change"

    def __str__(self) -> str:
        return f"{self.get_object_kind_display()} {self.label} {self.field}: {self.carrier_answer}"

    @property
    def accepted(self) -> bool:
        return self.carrier_answer == self.ACCEPTED


class NumberChange(models.Model):
    """Every rent, release, SMS enablement and rename the portal asked the carrier for, whatever it
    answered: who, when, what was asked, what the carrier said.

    Written before the carrier is called (outcome "pending") and completed after, so a crash never
    hides that we tried. By SID and number, not foreign key: the audit outlives the DID row.
    """

    class Action(models.TextChoices):
        RENT = "rent", "Rent"
        RELEASE = "release", "Release"
        ENABLE = "enable", "Enable SMS"
        DISABLE = "disable", "Disable SMS"
        RENAME = "rename", "Rename"

    class Outcome(models.TextChoices):
        PENDING = "pending", "pending"
        ACCEPTED = "accepted", "accepted"
        REFUSED = "refused", "refused"
        # No answer (a timeout) and re-reading the carrier could not settle it either.
        UNKNOWN = "unknown", "unknown"

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    username = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=10, choices=Action.choices)
    # Empty for a rent the carrier refused: no DID came of it.
    did_sid = models.CharField(max_length=64, blank=True, db_index=True)
    phonenumber = models.CharField(max_length=20, blank=True, db_index=True)
    # What we sent the carrier, as JSON text.
    asked = models.TextField(blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.PENDING)
    # The carrier's answer: its status words, or its error message.
    carrier_answer = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.phonenumber}: {self.outcome}"

    @property
    def formatted(self) -> str:
        return format_number(self.phonenumber) if self.phonenumber else ""
