"""How many SMS segments a text costs: the GSM 03.38 table and the packing rule, with no Django.

The portal's composer (messaging/segments.py, static/js/composer.js) and the sandbox carrier
(sandbox/sms.py) both count with this one copy, so they never disagree, and the sandbox can be
removed without touching the portal. The browser's counter reads `segment_table()` from the page;
the JavaScript only repeats the packing rule of `count_segments`.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

GSM7 = "GSM-7"
UCS2 = "UCS-2"

# GSM 03.38 default alphabet in code order, without 0x1B (the escape into the extension table,
# never a character of its own). Each costs one septet.
GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table: ESC plus the character, so each costs two septets.
GSM7_EXTENSION = "\f^{}\\[~]|€"

# (one segment alone, each part of a concatenated message): the user-data header of a long
# message takes 7 septets in GSM-7 and 3 UTF-16 units in UCS-2.
LIMITS = {GSM7: (160, 153), UCS2: (70, 67)}

_BASIC = frozenset(GSM7_BASIC)
_EXTENSION = frozenset(GSM7_EXTENSION)


@dataclass(frozen=True)
class SegmentCount:
    encoding: str
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2
    segments: int
    remaining: int  # units that still fit before another segment starts
    ucs2_culprit: str | None  # the first character outside GSM-7, which forced UCS-2

    @property
    def capacity(self) -> int:
        return self.units + self.remaining


def segment_table() -> dict:
    """What the browser's counter needs, straight from the constants above."""
    return {
        "basic": GSM7_BASIC,
        "extension": GSM7_EXTENSION,
        "limits": {encoding: list(limits) for encoding, limits in LIMITS.items()},
    }


def count_segments(text: str) -> SegmentCount:
    culprit = next((ch for ch in text if ch not in _BASIC and ch not in _EXTENSION), None)
    if culprit is None:
        encoding = GSM7
        weights = [2 if ch in _EXTENSION else 1 for ch in text]
    else:
        encoding = UCS2
        # Characters outside the Basic Multilingual Plane (most emoji) are a surrogate pair.
        weights = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
    single, part = LIMITS[encoding]
    units = sum(weights)
    if units <= single:
        segments = 1 if units else 0
        return SegmentCount(encoding, units, segments, single - units, culprit)
    # Pack the parts the way phones split them: an escape pair or a surrogate pair is never
    # cut in two, so it moves whole into the next part.
    segments, used = 1, 0
    for weight in weights:
        if used + weight > part:
            segments, used = segments + 1, 0
        used += weight
    return SegmentCount(encoding, units, segments, part - used, culprit)


def culprit_label(ch: str) -> str:
    """The culprit as people can see it: quoted, or its code point when it is invisible."""
    if unicodedata.category(ch)[0] in "CZ":
        return f"U+{ord(ch):04X}"
    return f"“{ch}”"


def format_cost(price: Decimal, segments: int) -> str:
    return str((price * segments).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP))


def describe(count: SegmentCount, price: Decimal | None = None) -> str:
    """The counter's text, word for word what composer.js writes."""
    noun = "segment" if count.segments == 1 else "segments"
    parts = [f"{count.units} / {count.capacity}", f"{count.segments} {noun}"]
    if count.ucs2_culprit is None:
        parts.append(count.encoding)
    else:
        parts.append(f"{count.encoding} because of {culprit_label(count.ucs2_culprit)}")
    if price is not None and count.segments:
        parts.append(f"≈ ${format_cost(price, count.segments)}")
    return " · ".join(parts)
