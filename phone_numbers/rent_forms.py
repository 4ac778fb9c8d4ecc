"""The forms of Rent New Number: the search, and the confirmation of one number."""

from __future__ import annotations

import re

from django import forms
from django.core.exceptions import ValidationError

from phone_numbers.places import PLACES, Place, place_find

COUNTRIES = [("USA", "United States"), ("CAN", "Canada")]
PAGE_SIZE = 20


class RentSearchForm(forms.Form):
    country_code = forms.ChoiceField(label="Country", choices=COUNTRIES, initial="USA")
    state = forms.CharField(
        label="State",
        required=False,
        max_length=2,
        widget=forms.TextInput(attrs={"placeholder": "NY", "autocapitalize": "characters"}),
        help_text="Two letters; leave empty for any state.",
    )
    area_code = forms.CharField(
        label="Area Code",
        required=False,
        max_length=3,
        widget=forms.TextInput(attrs={"placeholder": "516", "inputmode": "numeric"}),
    )
    sms = forms.BooleanField(label="SMS capable", required=False, initial=True)
    near = forms.CharField(
        label="Near (city or ZIP)",
        required=False,
        max_length=60,
        widget=forms.TextInput(attrs={"list": "places", "placeholder": "Boston or 02108"}),
        help_text="One of the places the portal knows (the list); numbers closest first.",
    )
    offset = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)

    def clean_state(self) -> str:
        state = self.cleaned_data["state"].strip().upper()
        if state and not re.fullmatch(r"[A-Z]{2}", state):
            raise ValidationError("Use the state's two letters, like NY.")
        return state

    def clean_area_code(self) -> str:
        code = self.cleaned_data["area_code"].strip()
        if code and not re.fullmatch(r"[2-9][0-9]{2}", code):
            raise ValidationError("An area code is three digits, like 516.")
        return code

    def clean_near(self) -> Place | None:
        text = self.cleaned_data["near"].strip()
        if not text:
            return None
        place = place_find(text)
        if place is None:
            known = ", ".join(p.label for p in PLACES[:4])
            raise ValidationError(
                f"The portal does not know where {text!r} is. Pick a place from the list "
                f"(e.g. {known}) or leave it empty."
            )
        return place


class RentConfirmForm(forms.Form):
    phonenumber = forms.RegexField(regex=r"^[1-9][0-9]{6,14}$", widget=forms.HiddenInput)
    # What the search showed, repeated on the confirmation (the carrier bills what it bills).
    price = forms.CharField(required=False, max_length=20, widget=forms.HiddenInput)
    locality = forms.CharField(required=False, max_length=100, widget=forms.HiddenInput)
    state = forms.CharField(required=False, max_length=10, widget=forms.HiddenInput)
    sms = forms.BooleanField(required=False, widget=forms.HiddenInput)
    confirm = forms.BooleanField(
        label="Yes, I want to rent this Phone Number",
        required=True,
        error_messages={"required": "Tick the box to confirm; nothing was rented."},
    )
    enable_sms = forms.BooleanField(label="Enable SMS on it", required=False, initial=True)
    campaign_sid = forms.CharField(
        label="10DLC campaign SID",
        required=False,
        max_length=64,
        help_text="Optional: the campaign the carrier approved for this number (a2p).",
    )
    point_here = forms.BooleanField(
        label="Point its SMS Callback URL at this portal", required=False, initial=True
    )
