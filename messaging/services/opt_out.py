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


# What a later keyword overwrites in the customer's standing with a DID (the rest names it).
OPT_OUT_CHANGES = ("opted_out", "keyword", "changed_at", "message")


def opt_out_rows(inbound: Message) -> tuple[OptOut, ConsentEvent] | None:
    """The rows an inbound keyword writes, unsaved: the customer's standing with the DID it was
    sent to (`OPT_OUT_CHANGES` replace an earlier standing's) and its entry in the consent record.
    None when the text is no keyword. The webhook writes them in the statement that writes a
    plain new text (`carrier_events._new_text_written`); `opt_out_record` writes them by the ORM.

    The consent record's keyword entries are made here, beside the standing they change, rather
    than in contacts/consent.py: ConsentEvent is messaging's model, the webhook's path then imports
    nothing of the contacts app, and contacts/consent.py (which builds on this module) is never
    imported back from here."""
    word = keyword(inbound.body)
    if word is None:
        return None
    stops = word in STOP_WORDS
    standing = OptOut(
        customer_number=inbound.their_number,
        our_number=inbound.our_number,
        opted_out=stops,
        keyword=word,
        changed_at=inbound.created_at,
        message=inbound,
    )
    entry = ConsentEvent(
        customer_number=inbound.their_number,
        our_number=inbound.our_number,
        kind=ConsentEvent.Kind.OPT_OUT if stops else ConsentEvent.Kind.OPT_IN,
        method=ConsentEvent.Method.KEYWORD,
        detail=word,
        consented_at=inbound.created_at,
        message=inbound,
    )
    return standing, entry


def opt_out_record(inbound: Message) -> OptOut | None:
    """Apply an inbound keyword to the customer's standing with the DID it was sent to."""
    rows = opt_out_rows(inbound)
    if rows is None:
        return None
    standing, entry = rows
    opt_out, _ = OptOut.objects.update_or_create(
        customer_number=standing.customer_number,
        our_number=standing.our_number,
        defaults={name: getattr(standing, name) for name in OPT_OUT_CHANGES},
    )
    entry.save()
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
