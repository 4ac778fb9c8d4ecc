"""Reads of contacts: names for numbers (every list that shows a customer), search, exports."""

from __future__ import annotations

from collections.abc import Iterable

from contacts.models import Contact


def contact_names(numbers: Iterable[str]) -> dict[str, str]:
    """number → the name to show for it (the contact's name, or its company when it has no name),
    for the numbers among `numbers` that have a named contact; one query whatever the count."""
    wanted = {n for n in numbers if n}
    if not wanted:
        return {}
    rows = Contact.objects.filter(number__in=wanted).values_list("number", "name", "company")
    return {number: name or company for number, name, company in rows if name or company}
