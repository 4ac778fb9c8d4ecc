"""Contact names and formatted numbers in templates: `{{ names|name_for:number }}` reads the
names a view looked up once with `contacts.selectors.contact_names`; `{{ number|phone }}` shows
stored digits as people read them."""

from __future__ import annotations

from django import template

from portal.phones import format_number

register = template.Library()


@register.filter
def name_for(names: dict[str, str] | None, number: str) -> str:
    return (names or {}).get(number, "")


@register.filter
def phone(number: str) -> str:
    return format_number(number or "")
