"""A local cache of what the carrier knows about our numbers. CarrierX stays the source of truth:
`numbers.services.numbers_sync` pulls, and every change is sent to the carrier first."""

from __future__ import annotations

from django.db import models
from django.db.models import F

from portal.phones import format_number

CAP_SMS_IN = 1
CAP_SMS_OUT = 2
CAP_VOICE = 4


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


class DidQuerySet(models.QuerySet):
    def sms_capable(self) -> DidQuerySet:
        """Numbers we can send from: the carrier says SMS-out is both possible and enabled."""
        return self.alias(sms_out=F("active_capabilities").bitand(CAP_SMS_OUT)).filter(
            sms_out__gt=0
        )


class Did(models.Model):
    did_sid = models.CharField(max_length=64, unique=True)
    phonenumber = models.CharField(max_length=20, unique=True)
    name = models.CharField(max_length=200, blank=True)
    capabilities = models.PositiveIntegerField(default=0)
    active_capabilities = models.PositiveIntegerField(default=0)
    callback_url = models.CharField(max_length=2048, blank=True)
    group = models.ForeignKey(
        DidGroup, null=True, blank=True, on_delete=models.SET_NULL, related_name="dids"
    )
    raw = models.JSONField(default=dict, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)

    objects = DidQuerySet.as_manager()

    class Meta:
        ordering = ["phonenumber"]
        verbose_name = "DID"
        permissions = [("change_callbacks", "Can change callback URLs and DID groups")]

    def __str__(self) -> str:
        return self.formatted

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
