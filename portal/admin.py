from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from portal.models import RoleChange


@admin.register(RoleChange)
class RoleChangeAdmin(admin.ModelAdmin):
    """Read-only: an audit trail nobody can edit or delete from the admin."""

    list_display = ["at", "username", "action", "group", "actor_username"]
    list_filter = ["action", "group"]
    search_fields = ["username", "actor_username", "group"]
    date_hierarchy = "at"
    fields = ["at", "user", "username", "action", "group", "actor", "actor_username"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: RoleChange | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: RoleChange | None = None) -> bool:
        return False
