"""`{{ names|name_for:number }}`: the contact name a view looked up with `contact_names`."""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def name_for(names: dict[str, str] | None, number: str) -> str:
    return (names or {}).get(number, "")
