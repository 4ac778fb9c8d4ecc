"""The carrier's capability bits in words (CARRIERX-MORE.md §2): 1 receive SMS, 2 send SMS,
4 voice, 8 receive MMS, 16 send MMS."""

from __future__ import annotations

BITS = [
    (1, "receive SMS"),
    (2, "send SMS"),
    (4, "voice"),
    (8, "receive MMS"),
    (16, "send MMS"),
]


def in_words(value: int) -> str:
    """`27` → "receive SMS, send SMS, receive MMS, send MMS"; 0 → "nothing"."""
    words = [word for bit, word in BITS if value & bit]
    return ", ".join(words) if words else "nothing"
