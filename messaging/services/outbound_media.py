"""The files staff attach to an outbound MMS: checked by their bytes, fitted to the carrier's
limits, stored, and listed for the send call.

- A file's type is read from its bytes (`media_files.sniff`), never from its name or the
  browser's word: only what handsets show is sent (`media_files.SENDABLE`); HEIC photos become
  JPEG.
- The carrier takes at most MMS_MAX_FILES files and MMS_MAX_BYTES in all (CARRIERX-MORE.md §4.2).
  Over the size, the largest photos are re-encoded to share what the other files leave, while
  they stay useful (`media_files.fit_photo`); if that is not enough the message is refused.
- Everything is decided before anything is stored: a refused form stores and queues nothing.
- The carrier fetches each file from its public URL (messaging/views/media.py) when it sends,
  so the files are stored with the message, before the send task is queued.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile

from messaging import media_files
from messaging.models import INLINE_IMAGE_TYPES, MediaState, Message, MessageMedia

MB = 1024 * 1024
# Photos this large may still be shrunk to fit; anything larger is refused unread.
MAX_UPLOAD_BYTES = 20 * MB
# All the uploads of one message together, before any shrinking.
MAX_UPLOADS_BYTES = 40 * MB
NAME_LIMIT = 100
# Re-encoding these (as JPEG) keeps them what they were; a GIF would lose its animation.
PHOTOS = frozenset({"image/jpeg", "image/png", "image/webp"})
EXTENSIONS = {"image/jpeg": ("jpg", "jpeg"), "text/vcard": ("vcf", "vcard")}
# Extensions a sender's name may carry that say a type: replaced by the type the bytes are.
FILE_EXTENSIONS = {t.extension for t in media_files.TYPES.values()} | {
    *("jpeg", "jpe", "heic", "heif", "vcard", "htm", "html", "bmp", "tif", "tiff", "mov", "bin"),
}
KINDS = "JPEG, PNG, GIF, WebP, HEIC, MP4, MP3, AMR, PDF, vCard"


@dataclass(frozen=True)
class Attachment:
    """One file ready to send: its shown name, its type by its bytes, and the bytes."""

    name: str
    content_type: str
    data: bytes
    # A small JPEG for the conversation, for images; made while checking the image can be read.
    thumbnail: bytes | None = None

    @property
    def size(self) -> int:
        return len(self.data)


def megabytes(size: int) -> str:
    """`3.1 MB`, rounded up: a total just over the limit never reads as the limit itself."""
    return f"{math.ceil(size * 10 / MB) / 10:.1f} MB"


def limit_text() -> str:
    return f"{settings.MMS_MAX_BYTES / MB:g} MB"


def too_many(count: int) -> str:
    return f"At most {settings.MMS_MAX_FILES} files in one message; you attached {count}."


def too_big(total: int) -> str:
    return f"{megabytes(total)} attached; the carrier takes at most {limit_text()} per message."


def safe_name(name: str, *, position: int, content_type: str) -> str:
    """The sender's file name, made safe to show and to put in a URL: no folders, no control or
    invisible characters, not starting with a dot, at most NAME_LIMIT characters, and ending in
    the extension of the type its bytes are."""
    name = name.replace("\\", "/").rpartition("/")[2]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] not in "CZ" or ch == " ")
    name = " ".join(name.split()).lstrip(".").strip()
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    wanted = EXTENSIONS.get(content_type, (media_files.extension(content_type),))
    if ext.lower() not in wanted:
        # `IMG_1.HEIC` sent as JPEG is `IMG_1.jpg`; `v1.2` is a name, not an extension.
        stem, ext = (stem if ext.lower() in FILE_EXTENSIONS else name), wanted[0]
    stem = stem.rstrip(". ")[: NAME_LIMIT - len(ext) - 1] or f"file-{position + 1}"
    return f"{stem}.{ext}"


def _shown(upload: UploadedFile, position: int) -> str:
    """The file's name as the sender knows it, for a refusal: without folders or invisible
    characters, and not endless."""
    name = (upload.name or "").replace("\\", "/").rpartition("/")[2]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] not in "CZ" or ch == " ")
    name = name.strip()
    return (name[:NAME_LIMIT] + "…" if len(name) > NAME_LIMIT else name) or f"File {position + 1}"


def _read(upload: UploadedFile, position: int) -> Attachment:
    shown = _shown(upload, position)
    if not upload.size:
        raise ValidationError(f"{shown} is empty.", code="empty")
    if upload.size > MAX_UPLOAD_BYTES:
        raise ValidationError(
            f"{shown} is {megabytes(upload.size)}; the carrier takes at most {limit_text()} "
            "per message, and larger photos cannot be shrunk that far.",
            code="too_big",
        )
    upload.seek(0)
    data = upload.read()
    content_type = media_files.sniff(data)
    if content_type == media_files.HEIC:
        data = media_files.heic_to_jpeg(data)
        if data is None:
            raise ValidationError(f"{shown} is a HEIC photo that could not be read.", code="bad")
        content_type = "image/jpeg"
    if content_type not in media_files.SENDABLE:
        raise ValidationError(
            f"{shown} is not a picture or a file handsets can show ({KINDS}).", code="type"
        )
    data = media_files.without_metadata(data, content_type)
    small = None
    if content_type in INLINE_IMAGE_TYPES:
        small = media_files.thumbnail(data)
        if small is None:
            raise ValidationError(
                f"{shown} looks like a {media_files.label(content_type)} but cannot be read; "
                "it may be damaged.",
                code="damaged",
            )
    name = safe_name(upload.name or "", position=position, content_type=content_type)
    return Attachment(name=name, content_type=content_type, data=data, thumbnail=small)


def _fit(files: list[Attachment], budget: int) -> list[Attachment] | None:
    """The files within `budget` bytes, photos re-encoded where needed: the smallest photos first
    keep what they can, so what they leave goes to the larger ones. None when it cannot be done
    without making a photo useless."""
    if sum(f.size for f in files) <= budget:
        return files
    photos = sorted(
        (i for i, f in enumerate(files) if f.content_type in PHOTOS), key=lambda i: files[i].size
    )
    left = budget - sum(f.size for i, f in enumerate(files) if i not in photos)
    fitted = list(files)
    for n, i in enumerate(photos):
        share = left // (len(photos) - n)
        photo = files[i]
        if photo.size > share:
            data = media_files.fit_photo(photo.data, budget=share) if share > 0 else None
            if data is None:
                return None
            stem = photo.name.rpartition(".")[0]
            photo = replace(photo, data=data, content_type="image/jpeg", name=f"{stem}.jpg")
        fitted[i] = photo
        left -= photo.size
    return fitted if left >= 0 else None


def attachments_prepare(uploads: Sequence[UploadedFile]) -> list[Attachment]:
    """The uploads as files the carrier takes, or a ValidationError naming every file it cannot
    take (or the count or total that is over the carrier's limit). Stores nothing."""
    if len(uploads) > settings.MMS_MAX_FILES:
        raise ValidationError(too_many(len(uploads)), code="too_many")
    total = sum(upload.size or 0 for upload in uploads)
    if total > MAX_UPLOADS_BYTES:
        raise ValidationError(too_big(total), code="too_big")
    files, problems = [], []
    for position, upload in enumerate(uploads):
        try:
            files.append(_read(upload, position))
        except ValidationError as err:
            problems.append(err)
    if problems:
        raise ValidationError(problems)
    fitted = _fit(files, settings.MMS_MAX_BYTES)
    if fitted is None:
        raise ValidationError(too_big(sum(f.size for f in files)), code="too_big")
    return fitted


def message_media_store(*, message: Message, attachments: Sequence[Attachment]) -> None:
    """Store each file (and an image's thumbnail) through the storage API as the message's media,
    in order. Called inside message_send's transaction; a file stored before a failure is removed
    again, so no orphan is left behind."""
    saved: list[MessageMedia] = []
    try:
        for position, attachment in enumerate(attachments):
            media = MessageMedia(
                message=message,
                position=position,
                name=attachment.name,
                content_type=attachment.content_type,
                size=attachment.size,
                state=MediaState.STORED,
            )
            # The stored name is ours; the sender's name is only shown and put in the URL.
            stored = f"file-{position + 1}.{media_files.extension(attachment.content_type)}"
            media.file.save(stored, ContentFile(attachment.data), save=False)
            saved.append(media)
            if attachment.thumbnail is not None:
                media.thumbnail.save(
                    f"file-{position + 1}.jpg", ContentFile(attachment.thumbnail), save=False
                )
            media.save()
    except Exception:
        for media in saved:
            media.file.delete(save=False)
            if media.thumbnail:
                media.thumbnail.delete(save=False)
        raise


def media_urls(message: Message) -> list[str]:
    """What the carrier fetches for this message, in order; empty for an SMS."""
    if not message.media_count:
        return []
    return [m.public_url for m in message.media.order_by("position")]
