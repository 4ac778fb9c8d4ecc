from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from phone_numbers.models import CallbackChange


@admin.register(CallbackChange)
class CallbackChangeAdmin(admin.ModelAdmin):
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

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
