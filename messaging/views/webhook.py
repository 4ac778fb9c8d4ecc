"""The endpoint CarrierX POSTs SMS callbacks to: `/webhooks/carrierx/<secret>/`.

Status-code policy: 404 for a wrong secret (nothing is written or logged), 405 for anything but
POST. Bodies that can never succeed answer 4xx with `{"error": reason}`, so the carrier may as
well stop: 413 over 64 KB, 415 not declared JSON, 400 not a JSON object (not UTF-8, unparsable,
NaN/Infinity, nested too deep), 422 an SMS object with a field of the wrong type or out of range
(see `messaging.validation`), or one about a message we do not hold that names no usable numbers.
Their bytes are still kept, as an event marked rejected (the first 64 KB of an oversize one).
Everything else is stored and answered 2xx, duplicates and late events included, so the carrier
does not retry what we already have. Only an unexpected error (the database unreachable) answers
500, so that it does retry; no body, however formed, should ever cause one.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.crypto import constant_time_compare
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from messaging.services.carrier_events import carrier_event_receive, carrier_event_reject
from messaging.validation import MAX_BODY_BYTES, Rejected, parse_object, sms_callback
from portal import metrics
from portal.prepared import statements_prepared

logger = logging.getLogger(__name__)


@csrf_exempt
@require_POST
def carrierx_webhook(request: HttpRequest, secret: str) -> HttpResponse:
    started = time.perf_counter()
    response = _receive(request, secret)
    metrics.WEBHOOK_SECONDS.observe(time.perf_counter() - started)
    metrics.WEBHOOK_REQUESTS.labels(str(response.status_code)).inc()
    return response


def _receive(request: HttpRequest, secret: str) -> HttpResponse:
    if not constant_time_compare(secret, settings.CARRIERX_WEBHOOK_SECRET):
        return JsonResponse({"error": "not found"}, status=404)
    # Read from the stream, not `request.body`: that refuses (and would not keep) anything over
    # DATA_UPLOAD_MAX_MEMORY_SIZE, and an oversize body is kept up to the limit.
    raw = request.read(MAX_BODY_BYTES + 1)
    truncated = len(raw) > MAX_BODY_BYTES
    raw = raw[:MAX_BODY_BYTES]
    payload = None
    try:
        if request.content_type != "application/json":
            raise Rejected("send the SMS object as application/json", status=415)
        if truncated:
            raise Rejected(f"body over {MAX_BODY_BYTES // 1024} KB", status=413)
        payload = parse_object(raw)
        callback = sms_callback(payload)
    except Rejected as rejection:
        carrier_event_reject(raw=raw, payload=payload, rejection=rejection, truncated=truncated)
        return JsonResponse({"error": rejection.reason}, status=rejection.status)
    # Valid UTF-8: parse_object decoded it. Its statements are few and by key: prepared once per
    # connection, not parsed and planned per callback.
    with statements_prepared():
        event, rejection = carrier_event_receive(
            raw=raw.decode("utf-8"), payload=payload, callback=callback
        )
    if rejection is not None:
        return JsonResponse({"error": rejection.reason}, status=rejection.status)
    if event.message_id is not None:
        # Ties the carrier's report to the request that sent the message (portal/request_context).
        logger.info(
            "callback %s for message %s (sent in request %s): %s",
            event.pk,
            event.message_id,
            event.message.request_id or "-",
            event.outcome,
        )
    return JsonResponse({"ok": True, "event": event.pk, "outcome": event.outcome})
