from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class RoleChange(models.Model):
    """A user joined or left a role (a group), who did it and when.

    Names are kept as text beside the foreign keys, so a row still says who and which role after
    an account or a group is deleted.
    """

    class Action(models.TextChoices):
        ADDED = "added", "added to"
        REMOVED = "removed", "removed from"

    at = models.DateTimeField(default=timezone.now, db_index=True)
    # Null when the change did not come from a signed-in user (shell, migration, command).
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    actor_username = models.CharField(max_length=150, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="role_changes",
    )
    username = models.CharField(max_length=150)
    group = models.CharField(max_length=150)
    action = models.CharField(max_length=10, choices=Action.choices)

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        by = self.actor_username or "nobody signed in"
        return f"{self.username} {self.get_action_display()} {self.group} by {by}"


class PasswordResetRequest(models.Model):
    """A password reset someone asked for: what the hourly limits count (portal/password_reset.py).

    In the database because the portal runs several processes, none of which sees the others'
    memory; rows older than the window are deleted as new ones come in.
    """

    at = models.DateTimeField(default=timezone.now, db_index=True)
    email = models.CharField(max_length=254)
    address = models.CharField(max_length=45, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["email", "at"], name="portal_reset_email_at"),
            models.Index(fields=["address", "at"], name="portal_reset_address_at"),
        ]

    def __str__(self) -> str:
        return f"{self.email} from {self.address or 'unknown'} at {self.at:%Y-%m-%d %H:%M}"


class UserPreferences(models.Model):
    """What one person chose for how the portal shows things to them (portal/preferences.py)."""

    class NotifyOn(models.TextChoices):
        NONE = "none", "None"
        MINE = "mine", "Mine"
        MINE_AND_UNASSIGNED = "mine_unassigned", "Mine and Unassigned"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preferences"
    )
    # An IANA name ("America/New_York"); empty means the portal's TIME_ZONE setting.
    time_zone = models.CharField(max_length=64, blank=True)
    # Which new inbound texts raise a browser notification: those in open conversations assigned
    # to this person, and (the default) those nobody has taken yet; never every message.
    notify_on = models.CharField(
        max_length=16, choices=NotifyOn.choices, default=NotifyOn.MINE_AND_UNASSIGNED
    )

    class Meta:
        verbose_name_plural = "user preferences"

    def __str__(self) -> str:
        return f"{self.user} in {self.time_zone or settings.TIME_ZONE}"

    @classmethod
    def notify_on_for(cls, user) -> str:
        """`user`'s notification choice, or the default when they never saved one."""
        stored = cls.objects.filter(user=user).values_list("notify_on", flat=True)
        return next(iter(stored), cls.NotifyOn.MINE_AND_UNASSIGNED)
