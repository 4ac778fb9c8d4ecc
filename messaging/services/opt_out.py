"""STOP and START: a customer's say over texts from each of our DIDs. `opt_out_refusal` is the
rule every sending path asks."""

from __future__ import annotations

import string

from django.utils import timezone

from messaging.models import ConsentEvent, Message, OptOut

STOP_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"}
START_WORDS = {"START", "UNSTOP", "YES"}
# The keyword an opt-out entered by staff (contacts/consent.py) is stored under: not the
# customer's own word, so a staff opt-in may lift it while a customer's STOP stays until START.
STAFF_KEYWORD = "STAFF"
_TRIM = string.punctuation + string.whitespace


def keyword(text: str) -> str | None:
    """The opt-out/in keyword a message consists of — whole message, any case, punctuation
    trimmed ("Stop!", " quit. ") — or None. "Please stop texting me" is not a keyword."""
    word = (text or "").strip(_TRIM).upper()
    return word if word in STOP_WORDS | START_WORDS else None


def opt_out_record(inbound: Message) -> OptOut | None:
    """Apply an inbound keyword to the customer's standing with the DID it was sent to."""
    word = keyword(inbound.body)
    if word is None:
        return None
    opt_out, _ = OptOut.objects.update_or_create(
        customer_number=inbound.their_number,
        our_number=inbound.our_number,
        defaults={
            "opted_out": word in STOP_WORDS,
            "keyword": word,
            "changed_at": inbound.created_at,
            "message": inbound,
        },
    )
    # The consent record's keyword entries are written here, beside the standing they change,
    # rather than in contacts/consent.py: ConsentEvent is messaging's model, the webhook's path
    # then imports nothing of the contacts app, and contacts/consent.py (which builds on this
    # module) is never imported back from here.
    ConsentEvent.objects.create(
        customer_number=inbound.their_number,
        our_number=inbound.our_number,
        kind=ConsentEvent.Kind.OPT_OUT if word in STOP_WORDS else ConsentEvent.Kind.OPT_IN,
        method=ConsentEvent.Method.KEYWORD,
        detail=word,
        consented_at=inbound.created_at,
        message=inbound,
    )
    return opt_out


def opt_out_refusal(*, customer: str, our_number: str) -> str | None:
    """Why nothing may be sent from `our_number` to `customer` now, or None when it may: the one
    rule the Send and reply forms, the send task and auto-reply all ask."""
    record = OptOut.objects.filter(
        customer_number=customer, our_number=our_number, opted_out=True
    ).first()
    if record is None:
        return None
    day = timezone.localtime(record.changed_at)  # in the zone of whoever is told
    how = "opted out by staff" if record.keyword == STAFF_KEYWORD else f"texted {record.keyword}"
    return f"{record} ({how} on {day:%b %-d, %Y}). They can text START to opt back in."
