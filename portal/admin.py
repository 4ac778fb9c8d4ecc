from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from portal.models import RoleChange


class ReadOnlyAdminMixin:
    """For a record of what happened (an audit, what the carrier sent): it can be read and
    searched in the admin, never added or edited, and deleted only where `deletable` says so."""

    deletable = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return self.deletable and super().has_delete_permission(request, obj)


@admin.register(RoleChange)
class RoleChangeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """An audit trail nobody can edit or delete from the admin."""

    list_display = ["at", "username", "action", "group", "actor_username"]
    list_filter = ["action", "group"]
    search_fields = ["username", "actor_username", "group"]
    date_hierarchy = "at"
    fields = ["at", "user", "username", "action", "group", "actor", "actor_username"]
    readonly_fields = fields
