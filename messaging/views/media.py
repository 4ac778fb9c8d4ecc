"""MMS files, served by the portal itself from the media storage.

- `public_media`: an outbound attachment, for the carrier, which fetches `media_urls` and cannot
  sign in. The URL's 192-bit token is the only key; nothing else is served under that path.
- `message_media`: our copy of any file (inbound downloads too), for people who may read its
  message.

Only the types in `messaging.media_files.INLINE_IMAGE_TYPES` and audio/video are ever shown by
the browser; everything else (SVG and HTML above all) is an attachment, and `nosniff` stops a
browser from guessing otherwise.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest
from django.views.decorators.http import require_GET, require_http_methods

from messaging.media_files import extension
from messaging.models import INLINE_IMAGE_TYPES, Direction, MediaState, MessageMedia
from messaging.selectors.visibility import messages_visible_to
from portal.permissions import SEND_MESSAGE, VIEW_INBOX
from portal.roles import DENIED_REASONS

# Long enough for the carrier's fetch and a handset's re-fetch; the token never changes.
PUBLIC_MAX_AGE = 24 * 3600


def _file_response(media: MessageMedia, *, thumbnail: bool = False) -> FileResponse:
    stored = media.thumbnail if thumbnail else media.file
    if not stored:
        raise Http404("No such file.")
    try:
        handle = stored.open("rb")
    except (FileNotFoundError, OSError):
        raise Http404("No such file.") from None
    content_type = "image/jpeg" if thumbnail else media.content_type or "application/octet-stream"
    inline = (
        thumbnail
        or content_type in INLINE_IMAGE_TYPES
        or content_type.startswith(("audio/", "video/"))
    )
    name = media.name or f"file-{media.position + 1}.{extension(content_type)}"
    response = FileResponse(
        handle, content_type=content_type, as_attachment=not inline, filename=name
    )
    response["X-Content-Type-Options"] = "nosniff"
    # Even opened directly, a file can run nothing and load nothing.
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@require_http_methods(["GET", "HEAD"])
def public_media(request: HttpRequest, token: str, name: str = "") -> FileResponse:
    media = (
        MessageMedia.objects.filter(
            token=token, state=MediaState.STORED, message__direction=Direction.OUTBOUND
        )
        .only("file", "content_type", "name", "position")
        .first()
    )
    if media is None:
        raise Http404("No such file.")
    response = _file_response(media)
    response["Cache-Control"] = f"public, max-age={PUBLIC_MAX_AGE}, immutable"
    return response


@require_GET
@login_required
def message_media(request: HttpRequest, token: str, thumbnail: bool = False) -> FileResponse:
    user = request.user
    reads_inbox = user.has_perm(VIEW_INBOX)
    if not reads_inbox and not user.has_perm(SEND_MESSAGE):
        raise PermissionDenied(DENIED_REASONS[VIEW_INBOX])
    media = (
        MessageMedia.objects.filter(
            token=token, message__in=messages_visible_to(user), state=MediaState.STORED
        )
        .select_related("message")
        .first()
    )
    if media is None:
        raise Http404("No such file.")
    if not reads_inbox and media.message.direction != Direction.OUTBOUND:
        raise PermissionDenied(DENIED_REASONS[VIEW_INBOX])
    response = _file_response(media, thumbnail=thumbnail)
    response["Cache-Control"] = "private, max-age=3600"
    return response
