"""What a carrier error code means and what to do about it, in words staff can act on.

CarrierX publishes no list of its `vendor_error_code`s (CARRIERX-MORE.md §5); these are the codes
the built-in sandbox documents (sandbox/README.md), which a real account's records will extend.
An unknown code is still shown, raw, beside whatever the carrier's record said.
"""

from __future__ import annotations

from typing import NamedTuple


class Reason(NamedTuple):
    meaning: str
    advice: str


KNOWN = {
    "4001": Reason(
        "The number is a landline: it cannot receive texts.",
        "Call them instead, or ask for a mobile number.",
    ),
    "4002": Reason(
        "The handset's network did not deliver it (switched off or out of coverage).",
        "Try again later; if it keeps failing, check the number with the customer.",
    ),
    "4003": Reason(
        "A file of the MMS could not be fetched, or broke the MMS limits.",
        "Check that PUBLIC_URL reaches this portal from the internet and the files fit 3 MB.",
    ),
    "4004": Reason(
        "A file of the inbound MMS could not be fetched by the carrier.",
        "Ask the customer to send it again.",
    ),
}


def reason_for(code: str) -> Reason | None:
    return KNOWN.get(code or "")


def code_label(code: str) -> str:
    """A chart's or a list's short label for a code: `4001 · landline …`, or `No code given`."""
    if not code:
        return "No code given"
    known = reason_for(code)
    return f"{code} · {known.meaning}" if known else f"{code} · meaning not known"
