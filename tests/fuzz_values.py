"""Hypothesis strategies for fuzzing the portal's forms, query strings and URL parts as a careless
operator or an attacker would send them: fields removed, repeated, retyped, oversized (100 KB),
and byte-damaged (NUL, lone surrogates, invalid UTF-8, broken percent escapes).

Bodies and query strings are built already percent-encoded, so bytes no browser would send still
reach the view exactly as written.
"""

from __future__ import annotations

import os
from urllib.parse import quote

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

FORM = "application/x-www-form-urlencoded"
EXAMPLES = int(os.environ.get("FORMS_FUZZ_EXAMPLES", "100"))


def fuzz_settings(examples: int = EXAMPLES) -> settings:
    # Seeded and without the example database: the same inputs on every run and every machine.
    return settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )


def enc(text: str) -> str:
    """Percent-encode every byte; lone surrogates become the invalid UTF-8 they would be."""
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


# Already encoded: bytes that are not text, escapes that are not escapes.
DAMAGE = [
    "%00",  # NUL: PostgreSQL refuses it in text
    "%ED%A0%80",  # a lone surrogate (U+D800) as UTF-8 bytes
    "%FF",
    "%C3%28",  # a broken two-byte sequence
    "%F4%90%80%80",  # beyond U+10FFFF
    "%E2%82",  # truncated
    "%",
    "%zz",
    "%0",
    "+",
    "%2F",  # "/"
    "%0D%0A",
    "%26",  # "&" inside a value
    enc("\u202e"),  # right-to-left override
    enc("<script>alert(1)</script>"),
    enc("javascript:alert(1)"),
    enc("'; DROP TABLE messaging_message; --"),
    enc("=cmd|'/C calc'!A0"),
]
OVERSIZED = [
    "x" * 100_000,
    "9" * 100_000,
    enc("é" * 20_000),
    "%00" * 5_000,
    enc("\U0001f600" * 10_000),
]
RETYPED = [
    "",
    "0",
    "-1",
    "-9223372036854775809",
    str(2**63),
    str(2**64 + 1),
    "1e309",
    "NaN",
    "-Infinity",
    "true",
    "null",
    "[]",
    "{}",
    "１２３",  # full-width digits
    "²",
    "٣",  # Arabic-Indic three
    "0001-01-01",
    "9999-12-31",
    "10000-01-01",
    "2024-02-30",
    "0000-00-00T25:61:61+25:00",
    "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00:00+14:00",
]


def text_values() -> st.SearchStrategy[str]:
    return st.text(max_size=40).map(enc)


@st.composite
def damaged(draw, base: str) -> str:
    """`base` (plain text) with damage spliced in somewhere."""
    encoded = enc(base)
    at = draw(st.integers(0, len(encoded)))
    return encoded[:at] + draw(st.sampled_from(DAMAGE)) + encoded[at:]


def values(base: str) -> st.SearchStrategy[str]:
    """One encoded value for a field whose good value is `base`."""
    return st.one_of(
        st.just(enc(base)),
        damaged(base),
        st.sampled_from(RETYPED).map(enc),
        st.sampled_from(OVERSIZED),
        st.sampled_from(DAMAGE),
        text_values(),
        st.integers(-(2**70), 2**70).map(str),
    )


@st.composite
def form_data(draw, base: dict[str, str]) -> str:
    """A urlencoded body or query string: each field kept, changed, dropped or repeated, and
    sometimes a stray field or a raw fragment."""
    pairs: list[str] = []
    for key, value in base.items():
        action = draw(st.sampled_from(["keep", "change", "change", "change", "drop", "repeat"]))
        if action == "drop":
            continue
        pairs.append(f"{enc(key)}={enc(value) if action == 'keep' else draw(values(value))}")
        if action == "repeat":
            pairs.append(f"{enc(key)}={draw(values(value))}")
    if draw(st.integers(0, 9)) == 0:
        pairs.append(draw(st.sampled_from(["=", "&", "%00=%00", "a[]=1", enc("\ud800") + "=1"])))
    if draw(st.integers(0, 9)) == 0:
        pairs.insert(0, f"{draw(text_values())}={draw(text_values())}")
    return "&".join(pairs)


def url_parts(base: str) -> st.SearchStrategy[str]:
    """A path segment where `base` belongs: encoded junk, or a raw `/` that changes the route."""
    return st.one_of(
        values(base),
        st.sampled_from(["..", ".", "%2e%2e", "a/b", "/", "-1", "-0", "%20", "0x10", "1.5"]),
    )


def damaged_file(draw, data: bytes) -> bytes:
    """An uploaded file's bytes as a careless or hostile sender may deliver them: kept, some
    bytes overwritten, cut short, replaced by garbage, or empty."""
    action = draw(st.sampled_from(["keep", "keep", "damage", "cut", "garbage", "empty"]))
    if action == "damage" and data:
        changed = bytearray(data)
        for _ in range(draw(st.integers(1, 8))):
            changed[draw(st.integers(0, len(changed) - 1))] = draw(st.integers(0, 255))
        return bytes(changed)
    if action == "cut":
        return data[: draw(st.integers(0, len(data)))]
    if action == "garbage":
        return draw(st.binary(max_size=400))
    if action == "empty":
        return b""
    return data
