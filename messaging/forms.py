from __future__ import annotations

import phonenumbers
from django import forms
from django.core.exceptions import ValidationError

from messaging.models import AutoReply
from messaging.services.opt_out import opt_out_refusal
from messaging.widgets import ComposerTextarea
from phone_numbers.models import Did
from portal.phones import normalize_number

MAX_MESSAGE_LENGTH = 1600


class SendForm(forms.Form):
    from_did = forms.ChoiceField(
        label="From DID",
        error_messages={
            "invalid_choice": "%(value)s is not one of our SMS numbers. Pick a From DID.",
            "required": "Pick the DID to send from.",
        },
    )
    to_did = forms.CharField(
        label="To DID",
        max_length=40,
        widget=forms.TextInput(attrs={"placeholder": "+1 (516) 206-5575", "inputmode": "tel"}),
        error_messages={"required": "Enter the number to text."},
    )
    message = forms.CharField(
        label="Message",
        max_length=MAX_MESSAGE_LENGTH,
        widget=ComposerTextarea(attrs={"rows": 4}),
        error_messages={"required": "Type a message to send."},
    )

    def __init__(self, *args, dids=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # The view passes the DIDs this user may send from; anything else is an invalid choice.
        dids = list(Did.objects.sms_capable() if dids is None else dids)
        self.fields["from_did"].choices = [(d.phonenumber, d.label) for d in dids]

    def clean_to_did(self) -> str:
        try:
            return normalize_number(self.cleaned_data["to_did"])
        except ValidationError as err:
            raise ValidationError(err.messages[0]) from None

    def clean_message(self) -> str:
        text = self.cleaned_data["message"]
        if not text.strip():
            raise ValidationError("Type a message to send.")
        return text

    def recipient(self) -> str | None:
        return self.cleaned_data.get("to_did")

    def clean(self) -> dict:
        cleaned = super().clean()
        to, from_did = self.recipient(), cleaned.get("from_did")
        if to and from_did:
            refusal = opt_out_refusal(customer=to, our_number=from_did)
            if refusal is not None:
                raise ValidationError(f"Not sent: {refusal}")
        return cleaned


class ReplyForm(SendForm):
    """A reply goes to the conversation's customer, so there is no To DID to type."""

    to_did = None

    def __init__(self, *args, customer: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.customer = customer

    def recipient(self) -> str | None:
        return self.customer

    def clean(self) -> dict:
        # Conversations stored before the webhook validated numbers can hold anything
        # (`javascript:alert(1)`); nothing is queued to a customer the carrier cannot text.
        if not is_carrier_number(self.customer):
            raise ValidationError(
                f"“{self.customer}” is not a phone number or short code: "
                "no reply can be sent to this conversation."
            )
        return super().clean()


def is_carrier_number(text: str) -> bool:
    """A number as CarrierX writes it: a short code (3–8 digits) or international digits
    without `+` that phonenumbers accepts as possible."""
    if not text.isascii() or not text.isdigit() or not 3 <= len(text) <= 15:
        return False
    if len(text) <= 8:
        return True
    try:
        return phonenumbers.is_possible_number(phonenumbers.parse("+" + text, None))
    except phonenumbers.NumberParseException:
        return False


class AutoReplyForm(forms.ModelForm):
    class Meta:
        model = AutoReply
        fields = ["enabled", "template", "min_interval_minutes"]
        labels = {"template": "Reply", "min_interval_minutes": "At most once per customer every"}
        help_texts = {
            "template": "{status}, {from}, {to} and {message} are filled in from the inbound SMS.",
            "min_interval_minutes": "minutes",
        }
        widgets = {"template": forms.TextInput()}
