"""The debug error page and the error mail, without the webhook secret.

Django's ExceptionReporter shows the request path (in the page's title among other places), the
request's META and every frame's local variables, and the webhook secret is in all of them for a
request to `/webhooks/carrierx/<secret>/`. Its settings filter hides settings named *SECRET*, but
not those. So whatever the reporter renders, HTML or text, goes through the same redaction as the
logs (portal/log_filters.py).
"""

from __future__ import annotations

from django.views.debug import ExceptionReporter

from portal.log_filters import redact


class RedactingExceptionReporter(ExceptionReporter):
    def get_traceback_html(self) -> str:
        return redact(super().get_traceback_html())

    def get_traceback_text(self) -> str:
        return redact(super().get_traceback_text())
