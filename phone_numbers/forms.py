from __future__ import annotations

from urllib.parse import urlsplit

from django import forms
from django.core.exceptions import ValidationError

from phone_numbers.models import DidGroup

MAX_CALLBACK_URL_LENGTH = 2048


def validate_callback_url(value: str) -> None:
    """The one rule for every callback URL the portal sends (DID, DID Group, Partner).

    Checked before the carrier is asked, so an obvious mistake costs no API call and the person
    gets a reason next to the field instead of the carrier's generic validation error.
    """
    if len(value) > MAX_CALLBACK_URL_LENGTH:
        raise ValidationError(
            "Use at most %(limit)d characters (this URL has %(length)d).",
            code="max_length",
            params={"limit": MAX_CALLBACK_URL_LENGTH, "length": len(value)},
        )
    if any(char.isspace() for char in value):
        raise ValidationError("A URL cannot contain spaces.", code="spaces")
    try:
        parts = urlsplit(value)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise ValidationError("This is not a valid URL.", code="invalid") from None
    if parts.scheme not in ("http", "https"):
        raise ValidationError(
            "Use an http:// or https:// URL: CarrierX can only POST callbacks to those.",
            code="scheme",
        )
    if not host:
        raise ValidationError(
            "Add the host the carrier should call, e.g. https://example.com/sms.", code="host"
        )


class CallbackURLForm(forms.Form):
    """An SMS callback URL; empty means "no URL of its own" (clear it)."""

    callback_url = forms.CharField(
        label="SMS Callback URL",
        required=False,
        validators=[validate_callback_url],
        widget=forms.URLInput(
            attrs={
                "placeholder": "https://example.com/sms-callback",
                "maxlength": MAX_CALLBACK_URL_LENGTH,
                "autocomplete": "off",
                "spellcheck": "false",
            }
        ),
        help_text="Leave it empty to clear it.",
    )


class DidGroupForm(forms.Form):
    did_group_sid = forms.ModelChoiceField(
        label="DID Group",
        queryset=DidGroup.objects.all(),
        to_field_name="did_group_sid",
        required=False,
        empty_label="— no group —",
    )
