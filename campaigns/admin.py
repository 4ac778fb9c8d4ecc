"""Campaigns in Django admin: for looking, and for an administrator's repair of a DID's pace.

Campaigns are made, started, paused and cancelled on their own pages (the state changes there go
through campaigns.services, which also queues the dispatcher); here they and their recipients are
read-only, so nobody moves a state without the work that goes with it.
"""

from __future__ import annotations

from django.contrib import admin

from campaigns.models import Campaign, DidPace, Recipient
from portal.admin import ReadOnlyAdminMixin


@admin.register(Campaign)
class CampaignAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["name", "state", "created_by", "created_at", "started_at", "finished_at"]
    list_filter = ["state", "created_at"]
    search_fields = ["name", "body"]
    date_hierarchy = "created_at"


@admin.register(Recipient)
class RecipientAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["campaign", "row", "number", "our_number", "state", "reason", "message"]
    list_filter = ["state", "reason"]
    search_fields = ["number", "raw_number"]
    list_select_related = ["campaign", "message"]
    raw_id_fields = ["campaign", "message"]


@admin.register(DidPace)
class DidPaceAdmin(admin.ModelAdmin):
    list_display = ["our_number", "next_at"]
    search_fields = ["our_number"]
