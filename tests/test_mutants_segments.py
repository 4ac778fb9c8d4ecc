"""The composer's cost estimate at a half: rounded up, as composer.js's formatCost does, not to
the even digit (Python's default), which mutation testing found no test told apart."""

from __future__ import annotations

from decimal import Decimal

import pytest

from messaging.segments import count_segments, describe


@pytest.mark.parametrize(
    ("price", "text", "shown"),
    [
        ("0.00125", "a", "≈ $0.0013"),  # half even would show $0.0012
        ("0.00005", "a", "≈ $0.0001"),  # half even would show $0.0000
        ("0.00005", "a" * 161, "≈ $0.0001"),  # two segments: exactly $0.0001
    ],
)
def test_the_cost_shown_rounds_a_half_up_like_the_composer(price, text, shown):
    assert describe(count_segments(text), Decimal(price)).endswith(" · " + shown)


# UTF-16 code units, as the carrier counts UCS-2 texts: one for every character up to U+FFFF,
# two (a surrogate pair) from U+10000 on. 70 units fit one segment.
@pytest.mark.parametrize(
    ("text", "units", "segments"),
    [
        ("\uffff" * 70, 70, 1),  # the last one-unit character
        ("\U00010000" * 35, 70, 1),  # the first two-unit character
        ("\U00010000" * 36, 72, 2),
    ],
    ids=["U+FFFF", "U+10000 filling one", "U+10000 past one"],
)
def test_characters_count_one_unit_up_to_uffff_and_two_from_u10000(text, units, segments):
    count = count_segments(text)

    assert (count.encoding, count.units, count.segments) == ("UCS-2", units, segments)
