"""Keep the webhook secret out of the logs.

The secret is the last path segment of `/webhooks/carrierx/<secret>/`, and Django logs paths:
`django.request` on every 4xx/5xx ("Not Found: /webhooks/carrierx/…/"), `django.server` on every
request line. Anyone who can read the logs could then post forged callbacks. Wrong secrets are
redacted too: a near miss of the real one says too much about it.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import quote

from django.conf import settings
from django.utils.encoding import iri_to_uri
from django.utils.html import escape

WEBHOOK_PATH = re.compile(r"(/webhooks/carrierx/)[^/\s?#\"'&<>]+")
REDACTED = "[redacted]"
SAFE_RUN = re.compile(r"[A-Za-z0-9._~-]{8,}")


def secret_spellings(secret: str) -> set[str]:
    """The secret as text, as a URL writes it, as HTML writes it, and as repr() writes it: a debug
    page shows it in all of these. Its runs of URL-safe characters go too, whatever mix of
    escapes surrounds them (a random secret is one such run)."""
    spellings = {secret, quote(secret, safe=""), quote(secret), iri_to_uri(secret)}
    spellings.add(repr(secret)[1:-1])
    spellings |= {str(escape(text)) for text in spellings}
    spellings.update(SAFE_RUN.findall(secret))
    return {spelling for spelling in spellings if spelling}


def redact(text: str) -> str:
    secret = getattr(settings, "CARRIERX_WEBHOOK_SECRET", "")
    if secret:
        # Longest first, so a spelling that contains another is replaced whole; and before the
        # path pattern, which stops at characters a secret may still contain.
        for spelling in sorted(secret_spellings(secret), key=len, reverse=True):
            text = text.replace(spelling, REDACTED)
    return WEBHOOK_PATH.sub(rf"\g<1>{REDACTED}", text)


class RedactWebhookSecret(logging.Filter):
    """Rewrites a record's message, and the traceback it carries, with the webhook secret replaced;
    never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is the logging module's to report
            return True
        redacted = redact(message)
        if redacted != message:
            record.msg = redacted
            record.args = None
        # A traceback can carry the secret too (an exception's message, a frame's source line).
        # Handlers format exc_text only when it is empty, so filling it in redacted is enough.
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class ForbiddenOneLine(logging.Filter):
    """A refused request is routine (a user without the role followed a link): django.request
    logs it with the PermissionDenied's traceback, a screenful for every 403. Keep one line, with
    the reason the user was shown."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) == 403 and record.exc_info:
            reason = str(record.exc_info[1] or "")
            record.exc_info = None
            record.exc_text = None
            if reason:
                record.msg = f"{record.msg} (%s)"
                record.args = (*(record.args or ()), reason)
        return True
