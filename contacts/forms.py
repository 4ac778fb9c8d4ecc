from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from campaigns.recipients import MAX_LIST_BYTES, read_csv
from contacts.models import Contact
from contacts.tags import MAX_FIELD_KEY, MAX_FIELD_VALUE, MAX_FIELDS, tag_names
from messaging.models import ConsentEvent
from phone_numbers.models import Did
from portal.phones import format_number, normalize_number


class ContactForm(forms.ModelForm):
    number = forms.CharField(
        max_length=40,
        widget=forms.TextInput(attrs={"placeholder": "+1 212-555-0142", "inputmode": "tel"}),
        error_messages={"required": "Enter the contact's phone number."},
    )
    tags = forms.CharField(
        required=False,
        max_length=1000,
        help_text="Separated by commas or semicolons: vip, wholesale.",
    )
    extra_fields = forms.CharField(
        label="Fields",
        required=False,
        max_length=20_000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One per line, a name and a value: Account: 10442",
    )

    class Meta:
        model = Contact
        fields = ["number", "name", "company", "notes"]
        widgets = {"notes": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, **kwargs) -> None:
        given = kwargs.get("initial") or {}
        super().__init__(*args, **kwargs)
        contact = self.instance
        if contact.pk:
            # The model's own value (stored digits) is already in `initial`: shown as people
            # write it unless the caller gave one.
            if "number" not in given:
                self.initial["number"] = format_number(contact.number)
            self.initial.setdefault("tags", ", ".join(contact.tags))
            self.initial.setdefault(
                "extra_fields", "\n".join(f"{k}: {v}" for k, v in contact.fields.items())
            )

    def clean_number(self) -> str:
        number = normalize_number(self.cleaned_data["number"])
        clash = Contact.objects.filter(number=number).exclude(pk=self.instance.pk).first()
        if clash is not None:
            raise ValidationError(
                f"{format_number(number)} is already the contact “{clash}”. Edit that one instead."
            )
        return number

    def clean_tags(self) -> list[str]:
        return tag_names(self.cleaned_data["tags"])

    def clean_extra_fields(self) -> dict[str, str]:
        fields: dict[str, str] = {}
        for line in self.cleaned_data["extra_fields"].splitlines():
            if not line.strip():
                continue
            key, colon, value = line.partition(":")
            key, value = key.strip(), value.strip()
            if not colon or not key:
                raise ValidationError(
                    f"“{line[:60]}” has no name and value: write each field as Name: value."
                )
            if len(key) > MAX_FIELD_KEY or len(value) > MAX_FIELD_VALUE:
                raise ValidationError(
                    f"A field's name may have {MAX_FIELD_KEY} characters and its value "
                    f"{MAX_FIELD_VALUE}; “{key[:30]}” is longer."
                )
            fields[key] = value
        if len(fields) > MAX_FIELDS:
            raise ValidationError(f"At most {MAX_FIELDS} fields per contact.")
        return fields


class ImportForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text=(
            "A header row naming the columns: number (or phone), name, company, tags, notes, "
            "consent_source, consent_date. Any other column is kept as a field of its own."
        ),
        error_messages={"required": "Choose the CSV file to import."},
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        # Refused before it is read: a huge upload never has to fit in memory.
        if upload.size > MAX_LIST_BYTES:
            raise ValidationError(
                f"The file is {upload.size / 1_048_576:.1f} MB; at most "
                f"{MAX_LIST_BYTES // 1_048_576} MB can be read at once. Split it into smaller "
                "files."
            )
        data = upload.read(MAX_LIST_BYTES + 1)
        # Read once here so a file that cannot be imported at all (no number column, not CSV)
        # is refused beside the field at once; the rows are read by the worker.
        read_csv(data)
        self.file_bytes = data
        return upload


class StaffConsentForm(forms.Form):
    our_number = forms.ChoiceField(label="DID", required=False)
    kind = forms.ChoiceField(
        label="Consent",
        choices=ConsentEvent.Kind.choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Choose opted in or opted out."},
    )
    reason = forms.CharField(
        max_length=300,
        help_text="How you know: “asked on the phone on Nov 29”, “signed form 12”.",
        error_messages={"required": "Say how you know: the reason is part of the record."},
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        dids = Did.objects.filter(released_at__isnull=True).order_by("phonenumber")
        self.fields["our_number"].choices = [("", "Every DID")] + [
            (did.phonenumber, format_number(did.phonenumber)) for did in dids
        ]
