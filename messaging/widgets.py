from __future__ import annotations

from django import forms

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
