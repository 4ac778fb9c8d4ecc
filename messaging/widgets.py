from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation

from django import forms
from django.conf import settings

from messaging.segments import count_segments, describe, price_per_segment, segment_table


class ComposerTextarea(forms.Textarea):
    """A message box with its live segment counter under it (static/js/composer.js).

    The counter's first text and the table the script counts with are rendered here, from
    messaging.segments, so the page and the server never disagree. The template sits in the app's
    templates folder because the default form renderer does not read the project's `templates/`.
    """

    template_name = "messaging/widgets/composer.html"

    def value_from_datadict(self, data, files, name):
        value = super().value_from_datadict(data, files, name)
        # A plain form post sends a textarea's line breaks as CRLF, htmx's FormData as LF. Send LF
        # either way: one septet per line break, as the counter in the browser counts them.
        return value.replace("\r\n", "\n") if isinstance(value, str) else value

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        widget = context["widget"]
        attrs = widget["attrs"]
        base = attrs.get("id") or f"composer-{name}"
        counter_id, table_id = f"{base}-counter", f"{base}-segments"
        price = price_per_segment()
        attrs["data-composer"] = table_id
        attrs["data-composer-counter"] = counter_id
        if price is not None:
            attrs["data-price-per-segment"] = format(price, "f")
        described = attrs.get("aria-describedby")
        attrs["aria-describedby"] = f"{described} {counter_id}" if described else counter_id
        widget.update(
            counter_id=counter_id,
            table_id=table_id,
            segment_table=segment_table(),
            counter=describe(count_segments(widget["value"] or ""), price),
        )
        return context


class FromDidSelect(forms.Select):
    """The From DID dropdown, saying which of our numbers cannot send MMS and why
    (`data-mms-refusals`: number → reason), so the composer disables attaching with the server's
    own words. On the select, not on each option: the options' markup stays Django's own."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # phonenumber → why it cannot send MMS, for those that cannot; set by the form.
        self.mms_refusals: dict[str, str] = {}

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        context["widget"]["attrs"]["data-mms-refusals"] = json.dumps(self.mms_refusals)
        return context


class AttachInput(forms.FileInput):
    """The Attach button: a real `<input type=file multiple>` (keyboard and screen readers know
    it), styled as a button by its label; static/js/composer.js adds thumbnails, remove buttons,
    drag-and-drop, paste and the MMS counter. The limits it shows come from the settings, so the
    page and the server never disagree (the server still decides)."""

    allow_multiple_selected = True

    def __init__(self, attrs=None) -> None:
        super().__init__(
            {
                "multiple": True,
                "class": "attach-input",
                # The picker offers what can be sent; anything else is refused by its bytes.
                "accept": "image/jpeg,image/png,image/gif,image/webp,image/heic,image/heif,.heic,"
                ".heif,video/mp4,video/3gpp,audio/mpeg,audio/amr,audio/mp4,application/pdf,"
                "text/vcard,.vcf",
                **(attrs or {}),
            }
        )

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        widget_attrs = context["widget"]["attrs"]
        widget_attrs["data-attach"] = ""
        widget_attrs["data-max-files"] = str(settings.MMS_MAX_FILES)
        widget_attrs["data-max-bytes"] = str(settings.MMS_MAX_BYTES)
        price = mms_price()
        if price is not None:
            widget_attrs["data-mms-price"] = format(price, "f")
        return context


def mms_price() -> Decimal | None:
    """What one MMS costs (the MMS_PRICE setting), or None when unknown: then no cost is shown."""
    raw = str(getattr(settings, "MMS_PRICE", "") or "").strip()
    try:
        price = Decimal(raw) if raw else None
    except InvalidOperation:
        return None
    return price if price is not None and price.is_finite() and price >= 0 else None
