from __future__ import annotations

import ipaddress
import re
import socket
from urllib.parse import urlsplit

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from phone_numbers.models import DidGroup

MAX_CALLBACK_URL_LENGTH = 2048
EXAMPLE = "https://example.com/sms"
# A host written as a number in the shorthand forms inet_aton accepts ("127.1", "0x7f.1",
# "2130706433"): HTTP clients connect to them as addresses, so they are checked as addresses.
IPV4_SHORTHAND = re.compile(r"^(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+)){0,3}$", re.IGNORECASE)


def validate_callback_url(value: str, *, credentials_ok: bool = False) -> None:
    """The one rule for every callback URL the portal sends (DID, DID Group, Partner).

    Checked before the carrier is asked, so an obvious mistake costs no API call and the person
    gets a reason next to the field instead of the carrier's generic validation error. Outside
    sandbox mode it also refuses addresses the carrier, on the internet, can never reach.
    """
    if len(value) > MAX_CALLBACK_URL_LENGTH:
        # Refused, never cut: a shortened URL would send the callbacks somewhere else.
        raise ValidationError(
            "Use at most %(limit)d characters (this URL has %(length)d).",
            code="max_length",
            params={"limit": MAX_CALLBACK_URL_LENGTH, "length": len(value)},
        )
    if "://" not in value and (any(char.isspace() for char in value) or "." not in value):
        raise ValidationError(
            "This is not a web address. Type the address CarrierX should send texts to, "
            "e.g. %(example)s.",
            code="not_url",
            params={"example": EXAMPLE},
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
            "Add the host the carrier should call, e.g. %(example)s.",
            code="host",
            params={"example": EXAMPLE},
        )
    if settings.CARRIERX_SANDBOX:
        # The sandbox runs beside the portal and calls local addresses; the carrier cannot.
        return
    if reason := _unreachable(host):
        raise ValidationError(
            "CarrierX can never reach %(host)s: %(reason)s. Use an address on the public internet.",
            code="unreachable",
            params={"host": host, "reason": reason},
        )
    if (parts.username or parts.password) and not credentials_ok:
        raise ValidationError(
            "This URL holds a user name or password. CarrierX would send it with every "
            "callback, and it would show in the change history. Tick the box below if you "
            "mean it.",
            code="credentials",
        )


def _unreachable(host: str) -> str:
    """Why the carrier could never connect to `host`, or "" when it might."""
    name = host.rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return "it names this machine (localhost)"
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        if not IPV4_SHORTHAND.match(name):
            return "" if "." in name else "a name without a dot only works inside your network"
        try:
            address = ipaddress.ip_address(socket.inet_aton(name))
        except OSError:
            return ""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if address.is_unspecified:
        return "it is the 'any address' 0.0.0.0, which no one can connect to"
    if address.is_loopback:
        return "it is a loopback address (this machine)"
    if address.is_link_local:
        return "it is a link-local address, only reachable on your own network segment"
    if address.is_private or address.is_reserved or address.is_multicast:
        return "it is a private address, only reachable inside your own network"
    if not address.is_global:
        return "it is not an address on the public internet"
    return ""


class CallbackURLForm(forms.Form):
    """An SMS callback URL; empty means "no URL of its own" (clear it)."""

    callback_url = forms.CharField(
        label="SMS Callback URL",
        required=False,
        # No maxlength on the input: a browser would cut a long URL silently and save the
        # stump; the validator refuses it instead, saying why.
        widget=forms.URLInput(
            attrs={
                "placeholder": EXAMPLE,
                "autocomplete": "off",
                "spellcheck": "false",
            }
        ),
        help_text="Leave it empty to clear it.",
    )
    credentials_ok = forms.BooleanField(
        label="This URL holds a user name and password on purpose",
        required=False,
        help_text="CarrierX sends them to that server with every callback.",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # The box is offered only once it means something: outside sandbox mode, after a URL
        # with something@ in it was typed (the refusal tells the person to tick it).
        typed = str(self.data.get("callback_url", "")) if self.is_bound else ""
        if settings.CARRIERX_SANDBOX or "@" not in typed:
            del self.fields["credentials_ok"]

    def clean(self) -> dict:
        cleaned = super().clean()
        url = cleaned.get("callback_url")
        if url:
            try:
                validate_callback_url(url, credentials_ok=cleaned.get("credentials_ok", False))
            except ValidationError as err:
                self.add_error("callback_url", err)
        return cleaned


class SidChoiceField(forms.ModelChoiceField):
    def to_python(self, value):
        # No SID holds a NUL, and PostgreSQL refuses one even in the lookup (a 500): no choice.
        if isinstance(value, str) and "\x00" in value:
            raise ValidationError(self.error_messages["invalid_choice"], code="invalid_choice")
        return super().to_python(value)


class DidGroupForm(forms.Form):
    did_group_sid = SidChoiceField(
        label="DID Group",
        queryset=DidGroup.objects.all(),
        to_field_name="did_group_sid",
        required=False,
        empty_label="— no group —",
    )
