from __future__ import annotations

from django.contrib import admin

from phone_numbers.models import CallbackChange
from portal.admin import ReadOnlyAdminMixin


@admin.register(CallbackChange)
class CallbackChangeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The audit is a record of what happened: it can be read and searched, never edited."""

    list_display = [
        "created_at",
        "username",
        "object_kind",
        "label",
        "field",
        "old_value",
        "new_value",
        "carrier_answer",
    ]
    list_filter = ["object_kind", "field", "created_at"]
    search_fields = ["object_sid", "label", "username", "old_value", "new_value", "carrier_answer"]
    date_hierarchy = "created_at"
