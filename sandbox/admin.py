from __future__ import annotations

from django.contrib import admin
from django.utils import timezone

from sandbox.models import (
    SandboxCallbackAttempt,
    SandboxDid,
    SandboxDidGroup,
    SandboxFaults,
    SandboxMedia,
    SandboxMessage,
    SandboxPartner,
)


@admin.register(SandboxPartner)
class SandboxPartnerAdmin(admin.ModelAdmin):
    list_display = ["name", "partner_sid", "display_id", "field_naming", "status"]
    readonly_fields = ["partner_sid", "date_created"]


@admin.register(SandboxDidGroup)
class SandboxDidGroupAdmin(admin.ModelAdmin):
    list_display = ["name", "did_group_sid", "callback_url"]
    readonly_fields = ["did_group_sid"]


@admin.register(SandboxDid)
class SandboxDidAdmin(admin.ModelAdmin):
    list_display = [
        "phonenumber",
        "name",
        "status",
        "capabilities",
        "active_capabilities",
        "messaging_status",
        "did_group",
        "callback_url",
    ]
    list_filter = ["status", "messaging_status", "state", "did_group", "active_capabilities"]
    search_fields = ["phonenumber", "name"]
    readonly_fields = ["did_sid"]


class CallbackAttemptInline(admin.TabularInline):
    model = SandboxCallbackAttempt
    extra = 0
    can_delete = False
    fields = ["created", "url", "response_status", "error", "request_body"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(SandboxMessage)
class SandboxMessageAdmin(admin.ModelAdmin):
    # What the carrier did is history: readable here, changed only by the sandbox itself.
    list_display = [
        "date_created",
        "direction",
        "from_number",
        "to_number",
        "status",
        "type",
        "message_segments",
    ]
    list_filter = ["direction", "status", "type"]
    search_fields = ["message_sid", "from_number", "to_number", "message"]
    date_hierarchy = "date_created"
    inlines = [CallbackAttemptInline]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(SandboxMedia)
class SandboxMediaAdmin(admin.ModelAdmin):
    # The bytes stay out of the page; the storage link shows them.
    list_display = ["created_at", "direction", "name", "content_type", "size", "message"]
    list_filter = ["direction", "content_type"]
    search_fields = ["uuid", "name", "sha256", "message__message_sid"]
    list_select_related = ["message"]
    exclude = ["data"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(SandboxCallbackAttempt)
class SandboxCallbackAttemptAdmin(admin.ModelAdmin):
    list_display = ["created", "event", "message", "url", "response_status", "error"]
    list_filter = ["event", "response_status"]
    search_fields = ["url", "message__message_sid"]
    list_select_related = ["message"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(SandboxFaults)
class SandboxFaultsAdmin(admin.ModelAdmin):
    list_display = ["__str__", *SandboxFaults.SHARES, "latency_seconds", "apply_to", "seed"]
    readonly_fields = ["changed_at"]

    def save_model(self, request, obj, form, change) -> None:
        obj.pk = SandboxFaults.ROW  # one row: every process reads this one
        obj.changed_at = timezone.now()
        super().save_model(request, obj, form, change)
