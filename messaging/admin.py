from __future__ import annotations

from django.contrib import admin

from messaging.models import AutoReply, CallbackEvent, Conversation, Message


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["id", "direction", "our_number", "their_number", "status", "created_at"]
    list_filter = ["direction", "status"]
    search_fields = ["message_sid", "their_number", "our_number", "body"]
    readonly_fields = [f.name for f in Message._meta.fields]
    show_full_result_count = False  # no COUNT(*) over a large table


@admin.register(CallbackEvent)
class CallbackEventAdmin(admin.ModelAdmin):
    """What the carrier sent, as it sent it: read-only."""

    list_display = ["id", "received_at", "message_sid", "status", "outcome"]
    search_fields = ["message_sid"]
    readonly_fields = [f.name for f in CallbackEvent._meta.fields]
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ["customer_number", "last_activity_at", "unread_count", "last_inbound_did"]
    search_fields = ["customer_number"]
    readonly_fields = [f.name for f in Conversation._meta.fields]


@admin.register(AutoReply)
class AutoReplyAdmin(admin.ModelAdmin):
    list_display = ["did", "enabled", "template", "min_interval_minutes"]
