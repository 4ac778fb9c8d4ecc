"""GSM 03.38 (3GPP TS 23.038 §6.2.1) written out here, independently of the code, so segment
expectations come from the standard and not from the table they test.

Each row is eight code positions; ESC (0x1B, the way into the extension table) is no character.
"""

from __future__ import annotations

ESC = None
BASIC_TABLE = [
    # 0x00-0x0F
    "@", "\u00a3", "$", "\u00a5", "\u00e8", "\u00e9", "\u00f9", "\u00ec",
    "\u00f2", "\u00c7", "\n", "\u00d8", "\u00f8", "\r", "\u00c5", "\u00e5",
    # 0x10-0x1F
    "\u0394", "_", "\u03a6", "\u0393", "\u039b", "\u03a9", "\u03a0", "\u03a8",
    "\u03a3", "\u0398", "\u039e", ESC, "\u00c6", "\u00e6", "\u00df", "\u00c9",
    # 0x20-0x2F
    " ", "!", '"', "#", "\u00a4", "%", "&", "'",
    "(", ")", "*", "+", ",", "-", ".", "/",
    # 0x30-0x3F
    "0", "1", "2", "3", "4", "5", "6", "7",
    "8", "9", ":", ";", "<", "=", ">", "?",
    # 0x40-0x4F
    "\u00a1", "A", "B", "C", "D", "E", "F", "G",
    "H", "I", "J", "K", "L", "M", "N", "O",
    # 0x50-0x5F
    "P", "Q", "R", "S", "T", "U", "V", "W",
    "X", "Y", "Z", "\u00c4", "\u00d6", "\u00d1", "\u00dc", "\u00a7",
    # 0x60-0x6F
    "\u00bf", "a", "b", "c", "d", "e", "f", "g",
    "h", "i", "j", "k", "l", "m", "n", "o",
    # 0x70-0x7F
    "p", "q", "r", "s", "t", "u", "v", "w",
    "x", "y", "z", "\u00e4", "\u00f6", "\u00f1", "\u00fc", "\u00e0",
]  # fmt: skip
# The extension table's characters, by position after ESC.
EXTENSION_TABLE = {
    0x0A: "\f",
    0x14: "^",
    0x28: "{",
    0x29: "}",
    0x2F: "\\",
    0x3C: "[",
    0x3D: "~",
    0x3E: "]",
    0x40: "|",
    0x65: "\u20ac",
}

BASIC = frozenset(ch for ch in BASIC_TABLE if ch is not ESC)
EXTENSION = frozenset(EXTENSION_TABLE.values())
# (one segment alone, each part of a long message): a long message's header takes 7 septets in
# GSM-7 and 3 UTF-16 units in UCS-2 (3GPP TS 23.040).
LIMITS = {"GSM-7": (160, 153), "UCS-2": (70, 67)}


def expected_count(text: str) -> tuple[str, int, int, int]:
    """(encoding, units, segments, capacity) by the standard: septets when every character is in
    the tables (an extension character costs two), else UTF-16 units; a two-unit character is
    never split between parts."""
    if all(ch in BASIC or ch in EXTENSION for ch in text):
        encoding, weights = "GSM-7", [2 if ch in EXTENSION else 1 for ch in text]
    else:
        encoding, weights = "UCS-2", [len(ch.encode("utf-16-le")) // 2 for ch in text]
    single, part = LIMITS[encoding]
    units = sum(weights)
    if units <= single:
        return encoding, units, (1 if units else 0), single
    segments, used = 1, 0
    for weight in weights:
        if used + weight > part:
            segments, used = segments + 1, 0
        used += weight
    return encoding, units, segments, units + part - used
