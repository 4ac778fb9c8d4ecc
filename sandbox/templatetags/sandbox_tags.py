"""The handset page writes numbers as people read them: `15162065575` → `+1 516-206-5575`."""

from __future__ import annotations

import phonenumbers
from django import template

register = template.Library()


@register.filter
def phone(number: object) -> str:
    """A carrier number (E.164 digits without `+`) in international format; anything that does
    not parse as a number is shown as it is."""
    text = str(number or "")
    try:
        parsed = phonenumbers.parse("+" + text)
    except phonenumbers.NumberParseException:
        return text
    if not phonenumbers.is_possible_number(parsed):
        return text
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
