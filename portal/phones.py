"""Phone numbers as people type them and as CarrierX writes them (E.164 digits without '+')."""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Q


def _not_a_number(text: str) -> ValidationError:
    # One wording whether phonenumbers could not parse it at all ("abc") or parsed something
    # that is no real number ("123"): to the person typing, both mean the same thing.
    return ValidationError(
        f"“{text}” is not a phone number. Type it with its country or area code, "
        "like +1 212-555-0142."
    )


def _parse(text: str, region: str | None):
    text = (text or "").strip()
    if not text:
        raise ValidationError("Enter a phone number.")
    region = region or settings.PHONE_REGION
    # CarrierX writes numbers as bare international digits; accept them as typed.
    candidate = "+" + text if text.isdigit() and len(text) > 10 else text
    try:
        parsed = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException:
        raise _not_a_number(text) from None
    if parsed.extension:
        # A text reaches a line, never an extension behind it: dropping it silently would text
        # someone other than the person meant.
        raise ValidationError(
            f"“{text}” has an extension ({parsed.extension}); a text cannot reach an extension. "
            "Enter the number without it."
        )
    if not phonenumbers.is_valid_number(parsed):
        raise _not_a_number(text)
    return text, phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def normalize_number(text: str, region: str | None = None) -> str:
    """`+1 (516) 206-5575` → `15162065575`, or ValidationError with a reason a person can act on."""
    return _parse(text, region)[1].lstrip("+")


def vanity_digits(text: str, region: str | None = None) -> str | None:
    """The digits a vanity number (`1-800-FLOWERS`) stands for (`18003569377`), or None when the
    number was typed as digits. Letters are read off a phone keypad, which people may not expect:
    the form shows the digits before anything is sent."""
    typed, e164 = _parse(text, region)
    return e164.lstrip("+") if re.search(r"[A-Za-z]", typed) else None


# A page formats the same few numbers again and again (a thread's 50 bubbles name the customer and
# our DIDs 130 times), and phonenumbers parses each time: 0.04 ms a call, a tenth of a thread's CPU.
@lru_cache(maxsize=4096)
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
