"""The partner callbacks about numbers that share the SMS webhook's URL, told apart by shape: a
Messaging Enablement object (`phonenumber_messaging_update`: `did_sid`, `enabled`, `status`, no
`phonenumber`) or a DID object (`phonenumber_order`: `did_sid`, `phonenumber`, `capabilities`).
The webhook keeps every body as a carrier event; this applies the ones about our numbers."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping

from phone_numbers.enablement import STATUSES, messaging_update_receive, number_order_receive
from portal.storable import storable_tree

SID = re.compile(r"^[A-Za-z0-9-]{1,64}$")
NUMBER = re.compile(r"^[1-9][0-9]{6,14}$")


def _shape(payload: Mapping) -> str | None:
    if not isinstance(payload.get("did_sid"), str) or not SID.match(payload["did_sid"]):
        return None
    if "phonenumber" not in payload and isinstance(payload.get("enabled"), bool):
        return "messaging_update" if payload.get("status") in STATUSES else None
    phonenumber, capabilities = payload.get("phonenumber"), payload.get("capabilities")
    if isinstance(phonenumber, str) and NUMBER.match(phonenumber):
        bits = (capabilities, payload.get("active_capabilities") or 0)
        if all(isinstance(b, int) and not isinstance(b, bool) and 0 <= b < 64 for b in bits):
            return "order"
    return None


HANDLERS: dict[str, Callable[[dict], str]] = {
    "messaging_update": messaging_update_receive,
    "order": number_order_receive,
}


def number_event_receive(payload: Mapping) -> str | None:
    """Apply a number callback; its outcome in words, or None when the body is no such object."""
    kind = _shape(payload)
    if kind is None:
        return None
    # The webhook parses numbers as Decimal; what we keep must be plain JSON that every database
    # can store (PostgreSQL refuses NUL in text and \u0000 in jsonb; nothing stores a lone
    # surrogate).
    clean = storable_tree(json.loads(json.dumps(dict(payload), default=str)))
    for key in ("name", "callback_url", "partner_sid", "did_group_sid", "status", "type"):
        if clean.get(key) is not None and not isinstance(clean[key], str):
            clean[key] = None
    return HANDLERS[kind](clean)[:200]
