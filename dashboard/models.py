"""The dashboard's own copy of the message counts, one row per day and kind of message, so a chart
over 30 days reads a few hundred rows instead of every message (dashboard/rollup.py keeps it)."""

from __future__ import annotations

from django.db import models


class DayTotal(models.Model):
    """Messages of one day (in the portal's TIME_ZONE) on one of our DIDs, one direction, one
    status and one carrier error code: how many, their segments and what they cost."""

    day = models.DateField()
    our_number = models.CharField(max_length=20)
    direction = models.CharField(max_length=10)
    status = models.CharField(max_length=20)
    error_code = models.CharField(max_length=32, blank=True)
    messages = models.PositiveIntegerField()
    segments = models.PositiveIntegerField(default=0)
    # The carrier's price where known: its detail record's, else the callback's.
    cost = models.DecimalField(max_digits=14, decimal_places=5, default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "our_number", "direction", "status", "error_code"],
                name="one_total_per_day_and_kind",
            )
        ]
        indexes = [models.Index(fields=["day", "our_number"], name="daytotal_day_did")]

    def __str__(self) -> str:
        return f"{self.day} {self.our_number} {self.direction} {self.status}: {self.messages}"


class Rollup(models.Model):
    """When the totals were last brought up to date (one row): the page says how old they are."""

    ROW = 1
    finished_at = models.DateTimeField()
    days = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"rollup at {self.finished_at}"
