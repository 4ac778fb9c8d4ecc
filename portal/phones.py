"""Phone numbers as people type them and as CarrierX writes them (E.164 digits without '+')."""

from __future__ import annotations

import re

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Q


def normalize_number(text: str, region: str | None = None) -> str:
    """`+1 (516) 206-5575` → `15162065575`, or ValidationError with a reason a person can act on."""
    text = (text or "").strip()
    if not text:
        raise ValidationError("Enter a phone number.")
    region = region or settings.PHONE_REGION
    # CarrierX writes numbers as bare international digits; accept them as typed.
    candidate = "+" + text if text.isdigit() and len(text) > 10 else text
    try:
        parsed = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException:
        raise ValidationError(f"“{text}” is not a phone number.") from None
    if not phonenumbers.is_valid_number(parsed):
        raise ValidationError(f"“{text}” is not a valid phone number.")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164).lstrip("+")


def format_number(digits: str) -> str:
    """`15162065575` → `+1 516-206-5575` for display; anything unparsable is shown as stored."""
    if not digits:
        return ""
    try:
        parsed = phonenumbers.parse("+" + digits.lstrip("+"), None)
    except phonenumbers.NumberParseException:
        return digits
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def number_matches(field: str, typed: str) -> Q:
    """Rows whose number `field` is the number typed any way (`+1 (516) 206-5575`, `5162065575`,
    `206-55`): a whole international number matches exactly (and uses the index); anything else
    matches as a part of a number, or as the whole number it may be in national form (`07700
    900123` in the UK)."""
    digits = re.sub(r"\D", "", typed)
    try:
        whole = normalize_number(typed)
    except ValidationError:
        return Q(**{f"{field}__contains": digits})
    if typed.startswith("+") or digits == whole:
        return Q(**{field: whole})
    return Q(**{field: whole}) | Q(**{f"{field}__contains": digits})
