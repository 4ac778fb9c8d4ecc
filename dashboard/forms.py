from __future__ import annotations

from django import forms

PERIODS = [("7", "Last 7 days"), ("30", "Last 30 days"), ("90", "Last 90 days")]


class DashboardForm(forms.Form):
    """The period and DIDs a dashboard shows; every DID the person may read when none is ticked."""

    period = forms.ChoiceField(choices=PERIODS, initial="30", required=False)
    did = forms.MultipleChoiceField(
        label="DIDs", required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, dids: list[tuple[str, str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["did"].choices = dids

    def days(self) -> int:
        return int(self.cleaned_data.get("period") or "30")
