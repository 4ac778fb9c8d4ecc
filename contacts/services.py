"""Writes of contacts made by hand (imports: contacts/imports.py; consent: contacts/consent.py)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from contacts.models import Contact, ContactTag


@transaction.atomic
def contact_save(*, contact: Contact, tags: list[str], fields: dict[str, str], user) -> Contact:
    """Save a contact from its form, with exactly these tags and fields."""
    now = timezone.now()
    if contact.pk is None:
        contact.created_at, contact.created_by = now, user
    contact.updated_at, contact.updated_by = now, user
    contact.fields = fields
    contact.save()
    contact.tag_rows.exclude(name__in=tags).delete()
    ContactTag.objects.bulk_create(
        [ContactTag(contact=contact, name=name) for name in tags], ignore_conflicts=True
    )
    return contact


def contact_for_number_add(*, number: str, user) -> tuple[Contact, bool]:
    """The contact of this number (E.164 digits), made now with nothing but the number if there
    is none: "Add contact" in a conversation. Two people clicking at once get the same one."""
    now = timezone.now()
    return Contact.objects.get_or_create(
        number=number,
        defaults={"created_at": now, "created_by": user, "updated_at": now, "updated_by": user},
    )


def contact_delete(*, contact: Contact) -> None:
    """The contact goes; its conversation, messages and consent record stay (they are keyed by
    the number, not by the contact)."""
    contact.delete()
