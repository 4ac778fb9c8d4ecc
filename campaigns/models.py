"""Campaigns: one text, rendered per recipient, sent from a pool of our DIDs at each DID's pace.

A campaign's recipients are rows of their own, made once when the list is read (the preview counts
them, the report lists them); each one that is sent points at the Message that carries it, so its
status, error, SID and cost are the message's own and never copied.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse

from messaging.models import Message
from portal.phones import format_number


class Campaign(models.Model):
    class State(models.TextChoices):
        DRAFT = "draft", "Draft"  # recipients read, preview shown, not started
        SCHEDULED = "scheduled", "Scheduled"  # started, waiting for start_at
        RUNNING = "running", "Sending"
        PAUSED = "paused", "Paused"
        FINISHED = "finished", "Finished"  # every recipient sent, held back or removed
        CANCELLED = "cancelled", "Cancelled"

    name = models.CharField(max_length=120)
    body = models.TextField("message")
    # The pool: our numbers (E.164 digits) it sends from. A recipient always gets the same one.
    dids = models.JSONField(default=list)
    # Messages a second from each DID of the pool; empty: each DID's own `send_rate`.
    rate_per_did = models.DecimalField(
        "messages per second per DID", max_digits=6, decimal_places=2, null=True, blank=True
    )
    start_at = models.DateTimeField("send at", null=True, blank=True)
    # No text reaches a recipient between these hours of their own local time (the phone number's
    # time zone); a recipient reached in them waits for the morning.
    quiet_start = models.TimeField(null=True, blank=True)
    quiet_end = models.TimeField(null=True, blank=True)
    cap = models.PositiveIntegerField("at most this many recipients", null=True, blank=True)
    # Variable names the list brought (normalised CSV headers), in column order.
    columns = models.JSONField(default=list, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.DRAFT)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("campaigns:detail", args=[self.pk])

    @property
    def is_active(self) -> bool:
        return self.state in (self.State.SCHEDULED, self.State.RUNNING, self.State.PAUSED)


class Recipient(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", "Waiting"
        # Taken by a dispatcher, to be sent within the second; a dispatcher that died holding it
        # gives it back (nothing was sent: the message row is written before the carrier call).
        CLAIMED = "claimed", "Sending"
        MESSAGED = "messaged", "Sent"  # `message` says how it went
        REMOVED = "removed", "Removed"  # left out when the list was read; `reason` says why
        OPTED_OUT = "opted_out", "Opted out"  # texted STOP during the campaign, before its turn
        CANCELLED = "cancelled", "Cancelled"

    class Reason(models.TextChoices):
        UNPARSABLE = "unparsable", "Not a phone number"
        DUPLICATE = "duplicate", "Duplicate"
        OPTED_OUT = "opted_out", "Opted out of that DID"
        OUR_DID = "our_did", "One of our own DIDs"
        OVER_CAP = "over_cap", "Over the campaign's cap"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="recipients")
    # Row of the list it came from (1 = first data row), so the report reads like the upload.
    row = models.PositiveIntegerField()
    raw_number = models.CharField(max_length=64, blank=True)
    number = models.CharField(max_length=20, blank=True)  # E.164 digits; empty when unparsable
    variables = models.JSONField(default=dict, blank=True)
    # The DID of the pool this customer always gets.
    our_number = models.CharField(max_length=20, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    reason = models.CharField(max_length=10, choices=Reason.choices, blank=True)
    # Held by quiet hours until then.
    not_before = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    claim = models.CharField(max_length=32, blank=True)
    message = models.OneToOneField(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="campaign_recipient"
    )

    class Meta:
        ordering = ["campaign_id", "row"]
        constraints = [
            # A number is texted at most once per campaign, whatever a dispatcher does.
            models.UniqueConstraint(
                fields=["campaign", "number"],
                condition=~Q(state="removed"),
                name="recipient_once_per_campaign",
            )
        ]
        indexes = [
            models.Index(fields=["campaign", "state", "our_number", "id"], name="recipient_queue"),
            models.Index(fields=["number"], name="recipient_number"),
        ]

    def __str__(self) -> str:
        return self.number or self.raw_number

    @property
    def formatted(self) -> str:
        return format_number(self.number) if self.number else self.raw_number


class DidPace(models.Model):
    """When each of our DIDs may send its next campaign message: a slot is taken by moving
    `next_at` on under a row lock, so dispatchers in any process on any machine share one pace."""

    our_number = models.CharField(max_length=20, unique=True)
    next_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.our_number} next at {self.next_at}"


class ListRead(models.Model):
    """A recipient list too long to read within the request (campaigns/lists.py): the file in
    the default storage and the pasted numbers until a worker has read them, its progress
    meanwhile (the page polls it), and the campaign's form values, applied together with the list
    so that a list that cannot be read changes nothing."""

    class State(models.TextChoices):
        QUEUED = "queued", "Waiting to start"
        RUNNING = "running", "Reading the list"
        DONE = "done", "Read"
        FAILED = "failed", "Not read"

    # The draft being edited; for a new campaign, the one made once the list is read.
    campaign = models.ForeignKey(
        Campaign, null=True, blank=True, on_delete=models.CASCADE, related_name="list_reads"
    )
    # The form's values (name, DIDs, message, pace, times) as CampaignForm cleaned them.
    fields = models.JSONField(default=dict, blank=True)
    file = models.FileField(upload_to="campaign-lists/", blank=True)  # deleted once read
    filename = models.CharField(max_length=255, blank=True)
    pasted = models.TextField(blank=True)  # emptied once read
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    state = models.CharField(max_length=7, choices=State.choices, default=State.QUEUED)
    rows_total = models.PositiveIntegerField(default=0)
    rows_read = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    # The task reading it, to tell a read whose worker died for good from one still going.
    task_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"List read {self.pk} ({self.get_state_display()})"

    @property
    def finished(self) -> bool:
        return self.state in (self.State.DONE, self.State.FAILED)
