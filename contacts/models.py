"""A contact: who is behind a customer number, so staff read names instead of digits."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from portal.phones import format_number


class Contact(models.Model):
    # E.164 digits without "+", as the portal stores numbers everywhere: the key every message,
    # opt-out and consent event is joined on.
    number = models.CharField(max_length=20, unique=True)
    name = models.CharField(max_length=200, blank=True)
    company = models.CharField(max_length=200, blank=True)
    notes = models.TextField(blank=True)
    # Free-form fields (key → value), e.g. the extra columns of an imported CSV.
    fields = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.display_name or format_number(self.number)

    @property
    def display_name(self) -> str:
        return self.name or self.company

    @property
    def number_formatted(self) -> str:
        return format_number(self.number)

    @property
    def tags(self) -> list[str]:
        return sorted(tag.name for tag in self.tag_rows.all())


class ContactTag(models.Model):
    """One tag of a contact. A row per tag rather than a JSON list: "every contact tagged vip" is
    then an indexed lookup on SQLite and PostgreSQL alike (JSON containment is PostgreSQL-only and
    cannot use a plain index), and stays fast at tens of thousands of contacts."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="tag_rows")
    # Lower case, so "VIP" and "vip" are one tag and the index answers without a function.
    name = models.CharField(max_length=50)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["contact", "name"], name="one_tag_per_contact")
        ]
        indexes = [models.Index(fields=["name", "contact"], name="contact_tag_name")]

    def __str__(self) -> str:
        return self.name


class ContactImport(models.Model):
    """One CSV import: the file until the worker has read it, its progress meanwhile (the page
    polls it), then the per-row report. Run by a task: a large list takes longer than a request
    may."""

    class State(models.TextChoices):
        QUEUED = "queued", "Waiting to start"
        RUNNING = "running", "Importing"
        DONE = "done", "Imported"
        FAILED = "failed", "Not imported"

    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    filename = models.CharField(max_length=255, blank=True)
    data = models.BinaryField(blank=True)  # emptied once read
    state = models.CharField(max_length=7, choices=State.choices, default=State.QUEUED)
    rows_total = models.PositiveIntegerField(default=0)
    rows_read = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # [[row, number as typed, outcome, reason], ...] in file order.
    report = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    task_id = models.CharField(max_length=64, blank=True)  # the import's task, to tell it died

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"Import {self.pk} ({self.get_state_display()})"

    @property
    def finished(self) -> bool:
        return self.state in (self.State.DONE, self.State.FAILED)
