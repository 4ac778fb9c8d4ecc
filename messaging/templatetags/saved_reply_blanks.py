"""`{% customer_blanks conversation.customer_number as known %}`: what the conversation's contact
fills in a saved reply's blanks before the agent types (the picker hands it to its script)."""

from __future__ import annotations

from django import template

from messaging.selectors.recipients import customer_blanks as blanks_for

register = template.Library()


@register.simple_tag
def customer_blanks(customer: str | None) -> dict[str, str]:
    return blanks_for(customer or "")
