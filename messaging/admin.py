from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User

from messaging.models import (
    AutoReply,
    CarrierEvent,
    Conversation,
    Message,
    NumberLookup,
    OptOut,
    SavedReply,
    SenderProfile,
    SendingDefaults,
)
from phone_numbers.models import Did
from portal.admin import ReadOnlyAdminMixin


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["id", "direction", "our_number", "their_number", "status", "created_at"]
    list_filter = ["direction", "status"]
    search_fields = ["message_sid", "their_number", "our_number", "body"]
    readonly_fields = [f.name for f in Message._meta.fields]
    show_full_result_count = False  # no COUNT(*) over a large table


@admin.register(CarrierEvent)
class CarrierEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """What the carrier sent, as it sent it: read-only (an administrator may delete one)."""

    deletable = True

    list_display = ["id", "received_at", "message_sid", "status", "outcome", "rejected"]
    list_filter = ["rejected"]
    search_fields = ["message_sid"]
    readonly_fields = [f.name for f in CarrierEvent._meta.fields]
    show_full_result_count = False


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ["customer_number", "last_activity_at", "unread_count", "last_inbound_did"]
    search_fields = ["customer_number"]
    readonly_fields = [f.name for f in Conversation._meta.fields]


@admin.register(AutoReply)
class AutoReplyAdmin(admin.ModelAdmin):
    list_display = ["did", "enabled", "template", "min_interval_minutes"]


@admin.register(SavedReply)
class SavedReplyAdmin(admin.ModelAdmin):
    list_display = ["name", "created_by", "updated_at"]
    search_fields = ["name", "body"]


@admin.register(NumberLookup)
class NumberLookupAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["number", "line_type", "carrier_name", "looked_up_at", "error"]
    search_fields = ["number"]


@admin.register(OptOut)
class OptOutAdmin(admin.ModelAdmin):
    list_display = ["customer_number", "our_number", "opted_out", "keyword", "changed_at"]
    list_filter = ["opted_out"]
    search_fields = ["customer_number", "our_number"]


class SenderProfileInline(admin.StackedInline):
    model = SenderProfile
    can_delete = True
    verbose_name = "sending DIDs"
    verbose_name_plural = "sending DIDs"
    filter_horizontal = ["allowed_dids"]


# The User page gains "which DIDs may this person send from".
admin.site.unregister(User)


@admin.register(User)
class UserWithSendingDidsAdmin(UserAdmin):
    inlines = [*UserAdmin.inlines, SenderProfileInline]


@admin.register(SendingDefaults)
class SendingDefaultsAdmin(admin.ModelAdmin):
    """One row: the portal-wide default From DID, offered among the DIDs that can send."""

    def has_add_permission(self, request) -> bool:
        return not SendingDefaults.objects.exists() and super().has_add_permission(request)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change) -> None:
        obj.pk = SendingDefaults.ROW
        super().save_model(request, obj, form, change)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "default_did":
            kwargs["queryset"] = Did.objects.sms_capable()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)
