"""Who a new conversation may be addressed to: contacts found by what was typed in the To field,
and the values a contact fills into a saved reply's blanks."""

from __future__ import annotations

import re

from django.db.models import Q

from contacts.models import Contact
from messaging.text_templates import variable_name
from portal.phones import number_matches

SUGGESTIONS = 10
# Longer than any name or number anyone types: a 100 KB paste is not a search.
TYPED_MAX_LENGTH = 100


def _typed(text: str) -> str:
    # A NUL cannot be compared with a PostgreSQL text column.
    return " ".join(text.replace("\x00", "").split())[:TYPED_MAX_LENGTH]


def recipient_suggestions(typed: str) -> list[Contact]:
    """The contacts the To field offers: by name, company or a part of the number."""
    typed = _typed(typed)
    contacts = Contact.objects.all()
    if typed:
        found = Q(name__icontains=typed) | Q(company__icontains=typed)
        if re.search(r"\d", typed):
            found |= number_matches("number", typed)
        contacts = contacts.filter(found)
    return list(contacts[:SUGGESTIONS])


def contacts_named(typed: str) -> list[Contact]:
    """The contacts whose name (or company, when they have no name) is exactly what was typed,
    whatever the case: a To field holding a name is addressed to that contact. Two at most: two
    mean the name does not say who."""
    typed = _typed(typed)
    if not typed or re.search(r"\d", typed):
        return []
    named = Q(name__iexact=typed) | Q(name="", company__iexact=typed)
    return list(Contact.objects.filter(named)[:2])


def contact_blanks(contact: Contact | None) -> dict[str, str]:
    """What a contact fills in a saved reply's blanks before the agent types anything: its name
    (whole, first and last), its company and its free-form fields under their placeholder
    names (`Order Number` → `{order_number}`)."""
    if contact is None:
        return {}
    fields = contact.fields if isinstance(contact.fields, dict) else {}
    values = {variable_name(str(key)): str(value) for key, value in fields.items()}
    first, _, last = contact.name.strip().partition(" ")
    values.update(name=contact.name.strip(), first_name=first, last_name=last.strip())
    values["company"] = contact.company
    return {name: value for name, value in values.items() if name and value.strip()}


def customer_blanks(customer: str) -> dict[str, str]:
    """`contact_blanks` for the contact of a customer number, if there is one."""
    return contact_blanks(Contact.objects.filter(number=customer).first()) if customer else {}
