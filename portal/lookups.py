"""Values from URLs, query strings and forms, made safe to look up or store in the database."""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest


def sid_or_404(value: str) -> str:
    """A SID (or other key) from a URL. A value holding a NUL cannot match any stored row, and
    PostgreSQL refuses it even in a comparison (a 500), so it is a 404 without asking."""
    if "\x00" in value:
        raise Http404("No such object.")
    return value


# django-axes keeps the typed username in a 255-character column.
AXES_USERNAME_MAX_LENGTH = 255


def axes_username(request: HttpRequest, credentials: dict | None = None) -> str | None:
    """The username django-axes records for a sign-in attempt: axes's own choice (the
    credentials, else the POST), cut to its column. Uncut, a long typed name is a 500 on
    PostgreSQL instead of a failed sign-in."""
    field = settings.AXES_USERNAME_FORM_FIELD
    if credentials:
        username = credentials.get(field)
    else:
        username = getattr(request, "data", request.POST).get(field)
    return username[:AXES_USERNAME_MAX_LENGTH] if isinstance(username, str) else username
