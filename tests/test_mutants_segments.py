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
