"""The sandbox's fault-injection control: `GET | PATCH | DELETE /sandbox/control` (JSON).

Like the handset, only for signed-in staff or a script holding the sandbox's token (it makes the
carrier misbehave for everyone). PATCH takes any of the settings that GET shows (see
sandbox/faults.py for what each does); DELETE goes back to settings.SANDBOX_FAULTS.

    curl -X PATCH localhost:8000/sandbox/control -H "Authorization: Bearer $TOKEN" \\
         -H 'Content-Type: application/json' \\
         -d '{"rate_limit": 0.1, "timeout_after": 0.1, "timeout_seconds": 25}'
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from sandbox.api import ApiError, json_object, json_response, staff_or_token
from sandbox.faults import faults_current, faults_json, faults_reset, faults_update


@csrf_exempt
@staff_or_token()
@require_http_methods(["GET", "PATCH", "DELETE"])
def control(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return json_response(faults_json(faults_current()))
    if request.method == "DELETE":
        return json_response(faults_json(faults_reset()))
    try:
        faults = faults_update(json_object(request))
    except ApiError as err:
        return err.response()
    return json_response(faults_json(faults))
