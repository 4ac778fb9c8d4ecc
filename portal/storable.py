"""Text every database can store: PostgreSQL refuses NUL in text (and \\u0000 in jsonb), and no
driver stores a lone surrogate. Both become U+FFFD; callers keep the raw bytes when they matter."""

from __future__ import annotations

import re

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(text: str) -> str:
    return _UNSTORABLE.sub("\ufffd", text)


def storable_tree(value):
    """A parsed JSON value with every string (keys too) made storable."""
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, list):
        return [storable_tree(item) for item in value]
    if isinstance(value, dict):
        return {storable_tree(key): storable_tree(item) for key, item in value.items()}
    return value
