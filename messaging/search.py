"""Finding messages: the filters of the Messages list and its CSV export."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db.models import Q, QuerySet
from django.utils import timezone

from messaging.models import Direction, Message, Status
from phone_numbers.models import Did
from portal.phones import normalize_number

# Days outside these overflow when the site's midnight is turned into UTC, or one day is added.
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(9999, 12, 30)
DAY_RANGE = [MinValueValidator(FIRST_DAY), MaxValueValidator(LAST_DAY)]


def _day_start(day: date) -> datetime:
    """Midnight of `day` in the site's time zone (the days people pick are local days)."""
    return timezone.make_aware(datetime.combine(day, time.min))


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


def _customer_filter(typed: str) -> Q:
    """A number typed any way: a whole international number matches exactly (and uses the
    index); anything else matches as a part of a number, or as the whole number it may be in
    national form (`07700 900123` in the UK)."""
    digits = re.sub(r"\D", "", typed)
    try:
        whole = normalize_number(typed)
    except ValidationError:
        return Q(their_number__contains=digits)
    if typed.startswith("+") or digits == whole:
        return Q(their_number=whole)
    return Q(their_number=whole) | Q(their_number__contains=digits)


def messages_matching(cleaned: dict) -> QuerySet[Message]:
    """The messages a valid `MessageFilterForm` asks for, newest first."""
    messages = Message.objects.all()
    if cleaned.get("our_did"):
        messages = messages.filter(our_number=cleaned["our_did"])
    if cleaned.get("customer"):
        messages = messages.filter(_customer_filter(cleaned["customer"]))
    if cleaned.get("direction"):
        messages = messages.filter(direction=cleaned["direction"])
    if cleaned.get("status"):
        messages = messages.filter(status=cleaned["status"])
    if cleaned.get("date_from"):
        messages = messages.filter(created_at__gte=_day_start(cleaned["date_from"]))
    if cleaned.get("date_to"):
        # Inclusive: everything before the next local midnight.
        messages = messages.filter(
            created_at__lt=_day_start(cleaned["date_to"] + timedelta(days=1))
        )
    if cleaned.get("text"):
        messages = messages.filter(body__icontains=cleaned["text"])
    return messages.order_by("-id")
