"""Keep the webhook secret out of the logs.

The secret is the last path segment of `/webhooks/carrierx/<secret>/`, and Django logs paths:
`django.request` on every 4xx/5xx ("Not Found: /webhooks/carrierx/…/"), `django.server` on every
request line. Anyone who can read the logs could then post forged callbacks. Wrong secrets are
redacted too: a near miss of the real one says too much about it.
"""

from __future__ import annotations

import logging
import re

from django.conf import settings

WEBHOOK_PATH = re.compile(r"(/webhooks/carrierx/)[^/\s?#\"']+")
REDACTED = "[redacted]"


def redact(text: str) -> str:
    text = WEBHOOK_PATH.sub(rf"\g<1>{REDACTED}", text)
    secret = getattr(settings, "CARRIERX_WEBHOOK_SECRET", "")
    if secret and secret in text:
        text = text.replace(secret, REDACTED)
    return text


class RedactWebhookSecret(logging.Filter):
    """Rewrites a record's message with the webhook secret replaced; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is the logging module's to report
            return True
        redacted = redact(message)
        if redacted != message:
            record.msg = redacted
            record.args = None
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
