"""Tags and free-form fields as people type them, into what a contact stores."""

from __future__ import annotations

import re

MAX_TAG_LENGTH = 50
MAX_TAGS = 30
MAX_FIELDS = 50
MAX_FIELD_KEY = 60
MAX_FIELD_VALUE = 500


def tag_names(text: str) -> list[str]:
    """ "VIP; #Wholesale, vip" → ["vip", "wholesale"]: separated by ; or , (spreadsheets use
    both), lower case so one tag is one tag however it was typed, a leading # dropped."""
    names: list[str] = []
    for part in re.split(r"[;,]", text or ""):
        name = " ".join(part.split()).lstrip("#").strip().lower()[:MAX_TAG_LENGTH]
        if name and name not in names:
            names.append(name)
    return names[:MAX_TAGS]
