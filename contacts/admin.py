from __future__ import annotations

from django.contrib import admin

from contacts.models import Contact, ContactTag


class ContactTagInline(admin.TabularInline):
    model = ContactTag
    extra = 0


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ("number", "name", "company", "updated_at")
    search_fields = ("number", "name", "company")
    inlines = [ContactTagInline]
