"""Messages we sent and received, and every callback the carrier POSTed about them."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from portal.phones import format_number


class Direction(models.TextChoices):
    OUTBOUND = "outbound", "Outbound"
    INBOUND = "inbound", "Inbound"


class Status(models.TextChoices):
    # Ours, before the carrier has answered the send call.
    SENDING = "sending", "Sending"
    QUEUED = "queued", "Queued"
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"
    RECEIVED = "received", "Received"


# Status only moves forward; terminal states share the top rank so they never replace each other.
STATUS_RANK = {
    Status.SENDING: 0,
    Status.QUEUED: 1,
    Status.SENT: 2,
    Status.DELIVERED: 3,
    Status.FAILED: 3,
    Status.RECEIVED: 3,
}
TERMINAL = {Status.DELIVERED, Status.FAILED, Status.RECEIVED}


def status_rank(status: str) -> int:
    """Unknown carrier statuses rank below everything we know, so they never move a message."""
    return STATUS_RANK.get(status, -1)


class Message(models.Model):
    message_sid = models.CharField(max_length=64, unique=True, null=True, blank=True)
    direction = models.CharField(max_length=10, choices=Direction.choices)
    our_number = models.CharField("our DID", max_length=20, db_index=True)
    their_number = models.CharField("customer number", max_length=20, db_index=True)
    body = models.TextField(blank=True)
    status = models.CharField(max_length=20, default=Status.SENDING)
    error = models.TextField(blank=True)
    segments = models.PositiveIntegerField(null=True, blank=True)
    price = models.DecimalField(max_digits=10, decimal_places=5, null=True, blank=True)
    mcc = models.PositiveIntegerField(null=True, blank=True)
    mnc = models.PositiveIntegerField(null=True, blank=True)
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        permissions = [
            ("send_message", "Can send messages"),
            ("view_inbox", "Can read the inbox"),
        ]

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


class CallbackEvent(models.Model):
    """One POST from the carrier, kept exactly as it arrived: nothing it sends is thrown away."""

    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    body = models.TextField()
    message_sid = models.CharField(max_length=64, blank=True, db_index=True)
    status = models.CharField(max_length=40, blank=True)
    outcome = models.CharField(max_length=200, blank=True)
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.message_sid or '?'} {self.status or '?'}: {self.outcome}"
