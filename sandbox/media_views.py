"""The sandbox's media: storage-like links anyone holding them may GET (as the carrier's
`storage.carrierx.com/f/<sid>` links), and two control endpoints for people and tests, for
staff or the sandbox's token:

    GET  /sandbox/control/media?message_sid=<sid>   what the sandbox keeps (all, without the filter)
    POST /sandbox/control/media/purge               delete it, as carrier links expire;
                                                    JSON {"message_sid": ...} for one message's
"""

from __future__ import annotations

import uuid

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.http import content_disposition_header
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST, require_safe

from sandbox.api import ApiError, json_object, json_response, staff_or_token, validation_error
from sandbox.media import media_json
from sandbox.models import SandboxMedia


@require_safe
def storage(request: HttpRequest, media_uuid: uuid.UUID) -> HttpResponse:
    """The file's bytes with its stored type. Only pictures, sound and video may show in a page;
    anything else (PDF, text, vCard) is a download, and no browser may guess another type."""
    media = SandboxMedia.objects.filter(uuid=media_uuid).first()
    if media is None:
        raise Http404("no such file (never stored, or purged)")
    response = HttpResponse(bytes(media.data), content_type=media.content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=not media.inline, filename=media.name
    )
    # Nothing the file holds may run, even if it is opened as a page of its own.
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@csrf_exempt
@staff_or_token()
@require_GET
def media_list(request: HttpRequest) -> HttpResponse:
    found = SandboxMedia.objects.select_related("message").defer("data")
    if message_sid := request.GET.get("message_sid"):
        found = found.filter(message__message_sid=message_sid)
    return JsonResponse([media_json(media) for media in found], safe=False)


@csrf_exempt
@staff_or_token()
@require_POST
def media_purge(request: HttpRequest) -> HttpResponse:
    found = SandboxMedia.objects.all()
    if request.body:
        try:
            body = json_object(request)
        except ApiError as err:
            return err.response()
        message_sid = body.get("message_sid")
        if message_sid is not None:
            if not isinstance(message_sid, str):
                return validation_error([("message_sid", "must be a message SID")]).response()
            found = found.filter(message__message_sid=message_sid)
    purged, _ = found.delete()
    return json_response({"purged": purged})
