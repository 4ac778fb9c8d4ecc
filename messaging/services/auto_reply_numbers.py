"""Which of our DIDs answer inbound texts, read once every few seconds per process instead of once
per inbound text (the webhook asks for every one, and the query was its costliest step).

A change made in this process (the Auto-reply page, admin) is seen at once: saving or deleting an
AutoReply clears the copy. Another web process sees it within TTL_SECONDS, so an inbound text in
the first seconds after auto-reply is switched on elsewhere may go unanswered. Switching off is
never late: the worker checks the rule again before it answers.
"""

from __future__ import annotations

import time

from messaging.models import AutoReply

TTL_SECONDS = 5.0

_copy: tuple[float, frozenset[str]] | None = None


def auto_reply_numbers() -> frozenset[str]:
    global _copy
    now = time.monotonic()
    if _copy is None or now - _copy[0] > TTL_SECONDS:
        numbers = AutoReply.objects.filter(enabled=True).values_list("did__phonenumber", flat=True)
        _copy = (now, frozenset(numbers))
    return _copy[1]


def forget(**_) -> None:
    global _copy
    _copy = None
