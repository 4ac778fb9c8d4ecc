"""The endpoint CarrierX POSTs SMS callbacks to: `/webhooks/carrierx/<secret>/`.

Status-code policy: 404 for a wrong secret (nothing is written or logged), 405 for anything but
POST, 413 for a body over 64 KB, 415 for a body that is not declared JSON, 400 for JSON that
cannot be parsed or is not an object — those can never succeed, so the carrier may as well stop.
Everything else is stored and answered 2xx, duplicates and late events included, so the carrier
does not retry what we already have. An unexpected error answers 500 so that it does retry.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.crypto import constant_time_compare
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from messaging.callbacks import callback_receive

MAX_BODY_BYTES = 64 * 1024


def _reject(status: int, reason: str) -> JsonResponse:
    return JsonResponse({"error": reason}, status=status)


@csrf_exempt
@require_POST
def carrierx_webhook(request: HttpRequest, secret: str) -> HttpResponse:
    if not constant_time_compare(secret, settings.CARRIERX_WEBHOOK_SECRET):
        return _reject(404, "not found")
    if request.content_type != "application/json":
        return _reject(415, "send the SMS object as application/json")
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > MAX_BODY_BYTES or len(request.body) > MAX_BODY_BYTES:
        return _reject(413, f"body over {MAX_BODY_BYTES // 1024} KB")
    try:
        raw = request.body.decode("utf-8")
        payload = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as err:
        return _reject(400, f"body is not valid JSON: {err}")
    if not isinstance(payload, dict):
        return _reject(400, "body must be a JSON object (the SMS object)")
    event = callback_receive(raw=raw, payload=payload)
    return JsonResponse({"ok": True, "event": event.pk, "outcome": event.outcome})
