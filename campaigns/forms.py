"""The New campaign (and Edit draft) form: who sends, what, to whom, how fast and when.

The list is read here (campaigns.recipients), so a file that cannot be read, or a list without a
single number, is an error next to its field before anything is stored. A list longer than
campaigns.lists.BACKGROUND_ROWS is only checked here from its first rows (its columns, its number
column) and read whole by a worker (`background`).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.dateformat import format as date_format

from campaigns.lists import BACKGROUND_ROWS, FIELDS
from campaigns.models import Campaign
from campaigns.recipients import (
    MAX_LIST_BYTES,
    RecipientList,
    list_merge,
    read_csv,
    read_pasted,
)
from messaging.text_templates import placeholders
from messaging.widgets import ComposerTextarea

MAX_MESSAGE_LENGTH = 1600
EARLIEST = timedelta(minutes=1)
LATEST = timedelta(days=35)
NOW, LATER = "now", "later"
# What of a long list is read in the request to check it: its header, and the rows the number
# column is recognised by (campaigns.recipients._phone_index looks at 50).
HEAD_BYTES = 64 * 1024


def _when_text(moment) -> str:
    return date_format(timezone.localtime(moment), "M j, Y, H:i T")


def zone_help() -> str:
    zone = timezone.get_current_timezone()
    abbreviation = timezone.localtime(timezone=zone).strftime("%Z")
    return f"In your time zone, {str(zone).replace('_', ' ')} ({abbreviation})."


class CampaignForm(forms.ModelForm):
    dids = forms.MultipleChoiceField(
        label="From DIDs",
        widget=forms.CheckboxSelectMultiple,
        help_text="One DID, or several as a pool: each customer always gets the same DID of "
        "the pool, so their replies continue one conversation.",
        error_messages={
            "required": "Pick at least one DID to send from.",
            "invalid_choice": "%(value)s is not one of our SMS numbers you may send from.",
        },
    )
    body = forms.CharField(
        label="Message",
        max_length=MAX_MESSAGE_LENGTH,
        widget=ComposerTextarea(attrs={"rows": 5, "id": "id_message"}),
        help_text="Columns of your list fill {placeholders}: a column headed “First Name” is "
        "{first_name}. The preview shows every text's length before anything is sent.",
        error_messages={"required": "Type the message to send."},
    )
    recipients_file = forms.FileField(
        label="Recipient list (CSV)",
        required=False,
        help_text=f"A phone column and any others as variables; a header row is recognised. "
        f"Up to {MAX_LIST_BYTES // 1_048_576} MB.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv,text/plain"}),
    )
    numbers = forms.CharField(
        label="Or paste numbers",
        required=False,
        max_length=MAX_LIST_BYTES,
        widget=forms.Textarea(attrs={"rows": 4, "inputmode": "tel"}),
        help_text="One per line, or separated by commas.",
    )
    when = forms.ChoiceField(
        label="Send",
        choices=[(NOW, "Now, when I press Start"), (LATER, "At a date and time")],
        initial=NOW,
        widget=forms.RadioSelect,
    )

    class Meta:
        model = Campaign
        fields = list(FIELDS)  # what waits with a list read in the background, too
        labels = {
            "name": "Campaign name",
            "rate_per_did": "Messages per second per DID",
            "cap": "At most this many recipients",
            "start_at": "Date and time",
            "quiet_start": "Quiet hours from",
            "quiet_end": "Quiet hours until",
        }
        help_texts = {
            "name": "For you and the team: the inbox tags replies with it.",
            "rate_per_did": "Empty: each DID's own rate (1 a second unless an administrator set "
            "another on its Phone Numbers page).",
            "cap": "Empty: everyone on the list. Rows past the cap are left out.",
            "quiet_start": "Optional. No text reaches a recipient between these hours of their "
            "own local time; they get it when the quiet hours end.",
        }
        widgets = {
            "name": forms.TextInput(attrs={"autocomplete": "off"}),
            "rate_per_did": forms.NumberInput(attrs={"step": "0.01", "min": "0.01"}),
            "cap": forms.NumberInput(attrs={"min": "1"}),
            "start_at": forms.DateTimeInput(
                attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"
            ),
            "quiet_start": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "quiet_end": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        }
        error_messages = {
            "name": {"required": "Give the campaign a name."},
            "start_at": {"invalid": "Enter a date and a time, like 2026-12-01 09:30."},
            "quiet_start": {"invalid": "Enter a time, like 21:00."},
            "quiet_end": {"invalid": "Enter a time, like 08:00."},
        }

    def __init__(self, *args, dids=(), **kwargs) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.fields["dids"].choices = [(d.phonenumber, d.label) for d in dids]
        self.fields["start_at"].required = False
        self.fields["start_at"].help_text = zone_help() + " From a minute to 35 days ahead."
        if self.instance.pk and self.instance.start_at:
            self.initial.setdefault("when", LATER)
        if self.instance.pk:
            self.fields["recipients_file"].help_text = (
                "Leave empty to keep the list you uploaded; a new file or pasted numbers "
                "replace it."
            )
        self.people: RecipientList | None = None
        # A list left to the worker: `people` then holds only its first rows.
        self.background = False

    def clean_name(self) -> str:
        name = " ".join(self.cleaned_data["name"].split())
        if not name:
            raise ValidationError("Give the campaign a name.")
        return name

    def clean_body(self) -> str:
        body = self.cleaned_data["body"].replace("\r\n", "\n")
        if not body.strip():
            raise ValidationError("Type the message to send.")
        return body

    def clean_rate_per_did(self):
        rate = self.cleaned_data["rate_per_did"]
        if rate is not None and not (Decimal("0.01") <= rate <= 1000):
            raise ValidationError("Enter a rate from 0.01 to 1000 messages a second.")
        return rate

    def clean_cap(self):
        cap = self.cleaned_data["cap"]
        if cap is not None and cap < 1:
            raise ValidationError("Enter at least 1, or leave it empty for the whole list.")
        return cap

    def clean_recipients_file(self):
        upload = self.cleaned_data["recipients_file"]
        if upload and upload.size > MAX_LIST_BYTES:
            raise ValidationError(
                f"The file is {upload.size / 1_048_576:.1f} MB; at most "
                f"{MAX_LIST_BYTES // 1_048_576} MB can be read at once. Split it into smaller "
                "lists."
            )
        return upload

    @staticmethod
    def _scan(upload) -> tuple[bytes, int]:
        """The upload's first HEAD_BYTES (whole lines) and how many lines it has, read by chunks:
        a long list is only counted here, never held whole."""
        head, lines = b"", 0
        for chunk in upload.chunks():
            if len(head) < HEAD_BYTES:
                head += chunk[: HEAD_BYTES - len(head)]
            lines += chunk.count(b"\n") or chunk.count(b"\r")  # or old Mac line ends
        upload.seek(0)
        if lines >= BACKGROUND_ROWS:
            cut = max(head.rfind(b"\n"), head.rfind(b"\r"))
            head = head[: cut + 1] if cut > 0 else head
        return head, lines

    def _read(self) -> RecipientList | None:
        """The list from the file, the pasted numbers, or both (pasted numbers join the file's
        rows with only their number); None when neither was given."""
        upload = self.cleaned_data.get("recipients_file")
        pasted = (self.cleaned_data.get("numbers") or "").strip()
        people = typed = None
        if upload:
            head, lines = self._scan(upload)
            self.background = lines >= BACKGROUND_ROWS
            try:
                people = read_csv(head if self.background else upload.read(MAX_LIST_BYTES + 1))
            except ValidationError as err:
                self.add_error("recipients_file", err.messages[0])
                return None
        if pasted:
            try:
                typed = read_pasted(pasted)
            except ValidationError as err:
                self.add_error("numbers", err.messages[0])
                return None
            if len(typed.rows) + (len(people.rows) if people else 0) > BACKGROUND_ROWS:
                self.background = True
        return list_merge(people, typed)

    def clean(self) -> dict:
        cleaned = super().clean()
        if cleaned.get("when") == LATER:
            start_at = cleaned.get("start_at")
            if start_at is None:
                if "start_at" not in self.errors:
                    self.add_error("start_at", "Pick the date and time to start sending.")
            else:
                now = timezone.now()
                if start_at < now + EARLIEST:
                    past = (
                        "That time has passed"
                        if start_at <= now
                        else "That is less than a minute away"
                    )
                    self.add_error(
                        "start_at",
                        f"{past} (it is now {_when_text(now)}). Pick a time at least 1 minute "
                        "ahead, or choose Now.",
                    )
                elif start_at > now + LATEST:
                    self.add_error(
                        "start_at",
                        "A campaign can start up to 35 days ahead: pick a time before "
                        f"{_when_text(now + LATEST)}.",
                    )
        else:
            cleaned["start_at"] = None
        quiet = cleaned.get("quiet_start"), cleaned.get("quiet_end")
        if (quiet[0] is None) != (quiet[1] is None) and not (
            "quiet_start" in self.errors or "quiet_end" in self.errors
        ):
            field = "quiet_end" if quiet[1] is None else "quiet_start"
            self.add_error(field, "Give both ends of the quiet hours, or neither.")
        elif quiet[0] is not None and quiet[0] == quiet[1]:
            self.add_error("quiet_end", "The quiet hours start and end at the same time.")

        pasted = (cleaned.get("numbers") or "").strip()
        given = cleaned.get("recipients_file") or pasted
        if not self.instance.pk and not given and "recipients_file" not in self.errors:
            self.add_error(
                "recipients_file", "Upload a CSV file of recipients, or paste their numbers."
            )
        if self.errors:
            return cleaned  # the list is read only for an otherwise valid form
        self.people = self._read()
        if self.errors:
            return cleaned
        if self.people is not None and not self.people.rows:
            self.add_error("recipients_file", "The list holds no numbers.")
        elif "body" in cleaned:
            known = self.people.columns if self.people else list(self.instance.columns or [])
            missing = [n for n in placeholders(cleaned["body"]) if n not in known]
            if missing:
                names = ", ".join("{" + n + "}" for n in missing)
                columns = ", ".join("{" + c + "}" for c in known)
                self.add_error(
                    "body",
                    f"The list has no column for {names}; it would be empty in every text. "
                    f"The list's columns are {columns}.",
                )
        return cleaned
