"""Message text with variables: saved replies and campaign templates (`Hello {first_name}`).

Pure text in, text out (no models, no settings): the composer's saved replies and campaigns
both render through here, so a template reads the same everywhere.

Syntax: `{name}` is a placeholder, where a name is letters, digits and `_` and does not start
with a digit; `{{` and `}}` are a literal `{` and `}`. Anything else in braces (`{ }`, `{a-b}`, a
lone `{`) is left as it was typed, so a message that merely contains a brace still sends as
written.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

# One scan: escaped braces first, so `{{name}}` reads as the literal text `{name}`.
_TOKEN = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")
_NOT_NAME = re.compile(r"[^a-z0-9]+")


def placeholders(body: str) -> list[str]:
    """The placeholder names in `body`, each once, in order of first use."""
    seen: dict[str, None] = {}
    for match in _TOKEN.finditer(body):
        name = match.group(1)
        if name is not None:
            seen.setdefault(name, None)
    return list(seen)


def blank_label(name: str) -> str:
    """How the composer labels a placeholder the agent fills in: "order_number" → "Order number"."""
    words = " ".join(name.replace("_", " ").split())
    return words[:1].upper() + words[1:] if words else name


def render(body: str, variables: Mapping[str, str]) -> str:
    """`body` with each placeholder replaced by its value; one with no value becomes "" (a
    campaign's preview flags those rows before anything is sent)."""

    def replace(match: re.Match) -> str:
        name = match.group(1)
        if name is None:
            return match.group(0)[0]  # "{{" → "{", "}}" → "}"
        value = variables.get(name)
        return "" if value is None else str(value)

    return _TOKEN.sub(replace, body)


def variable_name(column_header: str) -> str:
    """The placeholder name for a CSV column: "First Name" → "first_name", " E-mail " → "e_mail",
    "Café" → "cafe". Accents are dropped, anything not a letter or digit becomes one `_`, and a
    name that would start with a digit gets a leading `_`. A header with nothing usable gives ""."""
    decomposed = unicodedata.normalize("NFKD", column_header.casefold())
    ascii_only = decomposed.encode("ascii", "ignore").decode("ascii")
    name = _NOT_NAME.sub("_", ascii_only).strip("_")
    if name and name[0].isdigit():
        name = "_" + name
    return name
