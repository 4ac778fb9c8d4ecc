from __future__ import annotations

import re
from datetime import date, datetime

import phonenumbers
from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.urls import reverse
from django.utils import timezone
from django.utils.dateformat import format as date_format

from messaging.models import AutoReply, Direction, SavedReply, Status
from messaging.selectors.paging import parse_id
from messaging.selectors.recipients import TYPED_MAX_LENGTH, contacts_named
from messaging.services.opt_out import opt_out_refusal
from messaging.services.outbound_media import attachments_prepare, limit_text
from messaging.services.scheduled import EARLIEST, LATEST
from messaging.text_templates import blank_label, placeholders
from messaging.widgets import AttachInput, ComposerTextarea, FromDidSelect
from phone_numbers.models import Did
from phone_numbers.selectors import mms_refusal
from portal.phones import format_number, normalize_number, vanity_digits

MAX_MESSAGE_LENGTH = 1600


class AttachmentsField(forms.Field):
    """Any number of uploaded files (the form's clean checks them with the carrier's limits)."""

    widget = AttachInput

    def __init__(self, **kwargs) -> None:
        super().__init__(required=False, **kwargs)

    def clean(self, value) -> list:
        return [f for f in value or [] if f is not None]


class LaterField(forms.DateTimeField):
    """The Send later time: read only when Schedule was pressed, so whatever sits in the field
    when Send is pressed neither blocks nor delays sending now."""

    active = True

    def clean(self, value):
        return super().clean(value) if self.active else None


class SendForm(forms.Form):
    from_did = forms.ChoiceField(
        label="From DID",
        widget=FromDidSelect,
        error_messages={
            "invalid_choice": "%(value)s is not one of our SMS numbers. Pick a From DID.",
            "required": "Pick the DID to send from.",
        },
    )
    to_did = forms.CharField(
        label="To DID",
        max_length=40,
        # A neutral example: never one of our own DIDs, which may not be texted from the portal.
        widget=forms.TextInput(attrs={"placeholder": "+1 212-555-0142", "inputmode": "tel"}),
        error_messages={"required": "Enter the number to text."},
    )
    # The saved reply the picker put in the Message box (static/js/saved_replies.js sets it), so
    # a blank of it left unfilled is refused by its name. Declared before `message`: cleaned first.
    saved_reply_id = forms.CharField(required=False, widget=forms.HiddenInput)
    # Optional once files are attached: an MMS may be pictures alone.
    message = forms.CharField(
        label="Message",
        required=False,
        max_length=MAX_MESSAGE_LENGTH,
        widget=ComposerTextarea(attrs={"rows": 4}),
    )
    attachments = AttachmentsField(
        label="Attach",
        template_name="messaging/widgets/attachments_field.html",
    )
    # "Send later": the time, typed in the user's own zone (the middleware activates it), used
    # only when the Schedule button (`SCHEDULE_FIELD`) was pressed.
    send_at = LaterField(
        label="Date and time",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        error_messages={"invalid": "Enter a date and a time, like 2026-12-01 09:30."},
    )

    def __init__(self, *args, dids=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["send_at"].help_text = zone_help()
        self.fields["send_at"].active = self.scheduling
        # The view passes the DIDs this user may send from; anything else is an invalid choice.
        dids = list(Did.objects.sms_capable() if dids is None else dids)
        self.fields["from_did"].choices = [(d.phonenumber, d.label) for d in dids]
        self.mms_refusals = {
            d.phonenumber: mms_refusal(d.formatted) for d in dids if not d.can_send_mms
        }
        self.fields["from_did"].widget.mms_refusals = self.mms_refusals
        self.fields["attachments"].help_text = (
            f"Pictures or files, up to {settings.MMS_MAX_FILES} and {limit_text()} in all; "
            "large photos are made smaller to fit."
        )

    @property
    def attachments_dropped(self) -> bool:
        """Files came with a form that was refused: the browser does not keep them, so say so."""
        return self.is_bound and bool(self.files.getlist("attachments")) and bool(self.errors)

    # Set when a vanity number was converted and not yet confirmed: the digits it became.
    vanity_pending: str | None = None

    def clean_to_did(self) -> str:
        typed = self.cleaned_data["to_did"]
        try:
            number = normalize_number(typed)
            vanity = vanity_digits(typed)
        except ValidationError as err:
            raise ValidationError(err.messages[0]) from None
        own_did_refusal(number)
        if vanity is not None and self.data.get(CONFIRM_FIELD) != vanity:
            # Letters are read off a keypad: show the digits once before anything is queued.
            self.vanity_pending = vanity
            raise ValidationError(
                f"{typed.strip()} is {format_number(vanity)}. Check the digits and press Send "
                "again to text that number.",
                code="confirm",
            )
        return number

    def clean_saved_reply_id(self) -> SavedReply | None:
        # A reply deleted since the page was loaded, or a damaged id, leaves the generic check.
        pk = parse_id(self.cleaned_data["saved_reply_id"])
        return SavedReply.objects.filter(pk=pk).first() if pk is not None else None

    def clean_message(self) -> str:
        text = self.cleaned_data["message"]
        placeholders_refusal(text, saved_reply=self.cleaned_data.get("saved_reply_id"))
        # Spaces alone are no text: with files the MMS goes without it, else the form says so.
        return text if text.strip() else ""

    @property
    def scheduling(self) -> bool:
        """Schedule was pressed (Send later), not Send."""
        return self.is_bound and bool(self.data.get(SCHEDULE_FIELD))

    def clean_send_at(self) -> datetime | None:
        if not self.scheduling:
            return None
        return send_at_checked(self.cleaned_data["send_at"])

    def clean_attachments(self) -> list:
        uploads = self.cleaned_data["attachments"]
        return attachments_prepare(uploads) if uploads else []

    def recipient(self) -> str | None:
        return self.cleaned_data.get("to_did")

    # Where a refusal to text this customer from this DID is shown: next to the number it concerns.
    refusal_field = "to_did"

    def clean(self) -> dict:
        cleaned = super().clean()
        attached = bool(self.files.getlist("attachments")) if self.is_bound else False
        if not attached and "message" in cleaned and not cleaned["message"]:
            self.add_error("message", "Type a message to send.")
        to, from_did = self.recipient(), cleaned.get("from_did")
        if attached and self.mms_refusals.get(from_did):
            self.add_error("from_did", self.mms_refusals[from_did])
        if to and from_did:
            refusal = opt_out_refusal(customer=to, our_number=from_did)
            if refusal is not None:
                self.add_error(self.refusal_field, f"Not sent: {refusal}")
        return cleaned


class ScheduledEditForm(forms.Form):
    """A scheduled message's text and time, changed before it goes."""

    message = forms.CharField(
        label="Message",
        required=False,
        max_length=MAX_MESSAGE_LENGTH,
        widget=ComposerTextarea(attrs={"rows": 4}),
    )
    send_at = forms.DateTimeField(
        label="Date and time",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        error_messages={
            "invalid": "Enter a date and a time, like 2026-12-01 09:30.",
            "required": "Pick the date and time to send it.",
        },
    )

    def __init__(self, *args, has_files: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.has_files = has_files
        self.fields["send_at"].help_text = zone_help()

    def clean_message(self) -> str:
        text = self.cleaned_data["message"]
        placeholders_refusal(text)
        if not text.strip():
            if not self.has_files:
                raise ValidationError("Type a message to send.")
            return ""
        return text

    def clean_send_at(self) -> datetime:
        return send_at_checked(self.cleaned_data["send_at"])


class ReplyForm(SendForm):
    """A reply goes to the conversation's customer, so there is no To DID to type."""

    to_did = None
    refusal_field = "from_did"  # the customer is fixed; the DID is what can change

    def __init__(self, *args, customer: str, opted_out: list | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.customer = customer
        if opted_out and not self.initial.get("from_did"):
            # The usual DIDs are ones the customer opted out of: preselect none, and say why.
            field = self.fields["from_did"]
            field.choices = [("", "Pick a From DID"), *field.choices]
            dids = ", ".join(format_number(o.our_number) for o in opted_out)
            field.help_text = f"They opted out of {dids}; pick a DID they have not opted out of."

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
        own_did_refusal(self.customer, reply=True)
        return super().clean()


class NewConversationForm(SendForm):
    """The inbox's New conversation: the Send page's form, so a number is refused (opted out,
    not a number, one of ours) or warned about (a landline) in the same words; the customer comes
    first, typed as a number or as a contact's name."""

    to_did = forms.CharField(
        label="To",
        max_length=TYPED_MAX_LENGTH,  # a contact's name can be longer than a number
        help_text="A number typed any way, or a contact's name (pick it from the list).",
        error_messages={"required": "Enter the number to text, or a contact's name."},
    )
    # The picked saved reply still before the message, which its blanks are checked in.
    field_order = ["to_did", "from_did", "saved_reply_id", "message"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # The browser's own suggestion list (no JavaScript needed); htmx narrows it while typing.
        self.fields["to_did"].widget.attrs.update(
            {
                "placeholder": "+1 212-555-0142 or a name",
                "list": "contact-options",
                "autocomplete": "off",
                "hx-get": reverse("messaging:conversation_new"),
                "hx-trigger": "input changed delay:300ms",
                "hx-target": "#contact-options",
                "hx-swap": "outerHTML",
            }
        )

    def clean_to_did(self) -> str:
        typed = self.cleaned_data["to_did"]
        named = contacts_named(typed)
        if len(named) > 1:
            raise ValidationError(
                f"More than one contact is called “{typed.strip()}”: pick one from the list, or "
                "type the number."
            )
        if named:
            # Their number as the carrier writes it, read as international, then the Send page's
            # checks (one of our own DIDs?) as if it had been typed.
            self.cleaned_data["to_did"] = "+" + named[0].number
        elif typed.strip() and not re.search(r"\d", typed):
            raise ValidationError(
                f"No contact is called “{typed.strip()}”. Type the number, like +1 212-555-0142, "
                "or pick a contact from the list."
            )
        return super().clean_to_did()


CONFIRM_FIELD = "confirm_to"
# The name of the Schedule button: pressed, the message is saved as scheduled for `send_at`.
SCHEDULE_FIELD = "schedule"


def zone_help() -> str:
    """Which zone a typed time is read in: the user's (Preferences), else the portal's."""
    zone = timezone.get_current_timezone()
    abbreviation = timezone.localtime(timezone=zone).strftime("%Z")
    name = str(zone).replace("_", " ")
    return f"In your time zone, {name} ({abbreviation}); 1 minute to 35 days from now."


def when_text(moment: datetime) -> str:
    return date_format(timezone.localtime(moment), "M j, Y, H:i T")


def send_at_checked(send_at: datetime | None) -> datetime:
    """A "Send later" time: given, at least a minute ahead, at most 35 days ahead."""
    if send_at is None:
        raise ValidationError("Pick the date and time to send it.", code="required")
    now = timezone.now()
    if send_at < now + EARLIEST:
        past = "That time has passed" if send_at <= now else "That is less than a minute away"
        raise ValidationError(
            f"{past} (it is now {when_text(now)}). Pick a time at least 1 minute ahead, or "
            "press Send to send it now.",
            code="too_soon",
        )
    if send_at > now + LATEST:
        raise ValidationError(
            f"Messages can be scheduled up to 35 days ahead: pick a time before "
            f"{when_text(now + LATEST)}.",
            code="too_late",
        )
    return send_at


def _listed(items: list[str]) -> str:
    return f"{', '.join(items[:-1])} and {items[-1]}" if len(items) > 1 else items[0]


def placeholders_refusal(text: str, *, saved_reply: SavedReply | None = None) -> None:
    """Refuse a text with `{placeholders}` left in it (a saved reply not filled in): the customer
    would get the braces. The blanks of the saved reply that was picked are named as the
    composer labels them, with the reply's name, so the agent knows which input is still empty."""
    names = placeholders(text)
    if not names:
        return
    blanks = [n for n in placeholders(saved_reply.body) if n in names] if saved_reply else []
    if blanks:
        words = _listed([f"{blank_label(n)} ({{{n}}})" for n in blanks])
        noun = "blanks" if len(blanks) > 1 else "blank"
        raise ValidationError(
            f"Fill in the {noun} {words} of the saved reply “{saved_reply.name}” before sending.",
            code="blanks",
        )
    listed = _listed([f"{{{n}}}" for n in names])
    raise ValidationError(f"Fill in {listed} before sending.", code="placeholders")


def own_did_refusal(number: str, *, reply: bool = False) -> None:
    """Refuse texting one of our own DIDs: the carrier would carry it between two of our numbers
    and report it delivered, while no customer ever sees it."""
    # A number we released is someone else's now: texting it is texting a customer.
    did = Did.objects.rented().filter(phonenumber=number).first()
    if did is None:
        return
    name = f" ({did.name})" if did.name and did.name != "N/A" else ""
    what = "no reply can be sent to this conversation" if reply else "enter a customer's number"
    raise ValidationError(
        f"Not sent: {format_number(number)} is one of our own DIDs{name}; texts between "
        f"our own numbers are not sent, so {what}."
    )


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


# Days outside these overflow when the site's midnight is turned into UTC, or one day is added.
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(9999, 12, 30)
DAY_RANGE = [MinValueValidator(FIRST_DAY), MaxValueValidator(LAST_DAY)]


class MessageFilterForm(forms.Form):
    our_did = forms.ChoiceField(label="Our DID", required=False)
    customer = forms.CharField(
        label="Customer number",
        required=False,
        max_length=40,
        widget=forms.TextInput(attrs={"type": "search", "inputmode": "tel"}),
    )
    direction = forms.ChoiceField(
        required=False, choices=[("", "Both directions"), *Direction.choices]
    )
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *Status.choices])
    date_from = forms.DateField(
        label="From date",
        required=False,
        validators=DAY_RANGE,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    date_to = forms.DateField(
        label="To date",
        required=False,
        validators=DAY_RANGE,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    text = forms.CharField(
        label="Text",
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"type": "search"}),
    )

    def __init__(self, *args, did_limit: frozenset[str] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # A person limited to some DIDs is offered only those; any other is an invalid choice.
        dids = Did.objects.all()
        if did_limit is not None:
            dids = dids.filter(phonenumber__in=did_limit)
        self.fields["our_did"].choices = [
            ("", "All our DIDs"),
            *((did.phonenumber, did.label) for did in dids),
        ]

    def clean_customer(self) -> str:
        typed = self.cleaned_data["customer"]
        if typed and not re.search(r"\d", typed):
            raise ValidationError("Type the digits of the customer's number, or a part of them.")
        return typed

    def clean(self) -> dict:
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", "The end date is before the start date.")
        return cleaned
