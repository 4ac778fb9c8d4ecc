"""What an MMS file is, by its bytes: the types we send and keep, thumbnails, fitting photos.

A file's type is read from its first bytes, never taken from a name or a header alone: a name
says `.jpg` as easily as a browser or a carrier says `image/png`. Only the types below are sent
or kept; HEIC photos (iPhones) become JPEG, which every handset shows.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError
from pillow_heif import register_heif_opener

register_heif_opener()

# A decompression bomb (a tiny PNG that decodes to gigapixels) is refused before it is decoded.
Image.MAX_IMAGE_PIXELS = 40_000_000

THUMBNAIL_EDGE = 320
# Photos are re-encoded down to this long edge, then lower JPEG quality, until they fit.
FIT_EDGES = (2048, 1600, 1280, 1024, 800)
FIT_QUALITIES = (85, 75, 65)


@dataclass(frozen=True)
class FileType:
    content_type: str
    extension: str
    label: str


TYPES = {
    t.content_type: t
    for t in (
        FileType("image/jpeg", "jpg", "JPEG image"),
        FileType("image/png", "png", "PNG image"),
        FileType("image/gif", "gif", "GIF image"),
        FileType("image/webp", "webp", "WebP image"),
        FileType("video/mp4", "mp4", "MP4 video"),
        FileType("video/3gpp", "3gp", "3GP video"),
        FileType("audio/mpeg", "mp3", "MP3 audio"),
        FileType("audio/amr", "amr", "AMR audio"),
        FileType("audio/mp4", "m4a", "M4A audio"),
        FileType("application/pdf", "pdf", "PDF document"),
        FileType("text/vcard", "vcf", "contact card"),
        # Received only, never sent: offered as downloads, never shown inline.
        FileType("image/svg+xml", "svg", "SVG image"),
        FileType("text/plain", "txt", "text file"),
    )
}
# What staff may attach: what the carrier's handsets show.
SENDABLE = frozenset(TYPES) - {"image/svg+xml", "text/plain"}
HEIC = "image/heic"


def sniff(data: bytes) -> str | None:
    """The content type of `data` by its first bytes, or None when it is none we know."""
    head = data[:64]
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"heic", b"heix", b"mif1", b"msf1", b"heim", b"heis", b"hevc"):
            return HEIC
        if brand.startswith(b"3gp"):
            return "video/3gpp"
        if brand in (b"M4A ", b"M4B "):
            return "audio/mp4"
        return "video/mp4"
    if head.startswith(b"#!AMR"):
        return "audio/amr"
    if head.startswith(b"ID3") or head[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return "audio/mpeg"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith(b"begin:vcard"):
        return "text/vcard"
    if text.startswith((b"<svg", b"<?xml")) and b"<svg" in data[:2048].lower():
        return "image/svg+xml"
    return None


def label(content_type: str) -> str:
    known = TYPES.get(content_type)
    return known.label if known else content_type or "file"


def extension(content_type: str) -> str:
    known = TYPES.get(content_type)
    return known.extension if known else "bin"


def _open(data: bytes) -> Image.Image | None:
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None
    return image


def _as_jpeg(image: Image.Image, *, edge: int, quality: int) -> bytes:
    image = ImageOps.exif_transpose(image)  # phones store rotation in EXIF; handsets ignore it
    image = image.convert("RGB")
    image.thumbnail((edge, edge))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, optimize=True)
    return out.getvalue()


def heic_to_jpeg(data: bytes) -> bytes | None:
    image = _open(data)
    return None if image is None else _as_jpeg(image, edge=FIT_EDGES[0], quality=FIT_QUALITIES[0])


def thumbnail(data: bytes) -> bytes | None:
    """A small JPEG of an image for the inbox (the first frame of a GIF), or None."""
    image = _open(data)
    if image is None:
        return None
    return _as_jpeg(image, edge=THUMBNAIL_EDGE, quality=80)


# JPEG APPn segments that describe the photo rather than draw it: EXIF (camera, time, GPS
# position), XMP and IPTC. A picture sent to a customer must not say where staff took it.
_METADATA = ((0xE1, b"Exif\x00"), (0xE1, b"http://ns.adobe.com/xap/"), (0xED, b"Photoshop 3.0"))


def _jpeg_orientation(image: Image.Image) -> int:
    try:
        return int(image.getexif().get(0x0112, 1))
    except Exception:  # unreadable EXIF: treat as upright
        return 1


def without_metadata(data: bytes, content_type: str) -> bytes:
    """A JPEG without its EXIF/XMP/IPTC segments, pixels untouched (no re-encoding), unless the
    EXIF said the photo is rotated: then it is re-encoded upright, since handsets would show it
    sideways without that note. Other types are returned as they are (PNG/GIF/WebP from phones
    rarely carry a position; HEIC and shrunk photos are re-encoded without metadata already)."""
    if content_type != "image/jpeg" or not data.startswith(b"\xff\xd8"):
        return data
    image = _open(data)
    if image is not None and _jpeg_orientation(image) != 1:
        return _as_jpeg(image, edge=max(image.size), quality=92)
    out, i = bytearray(b"\xff\xd8"), 2
    while i + 4 <= len(data) and data[i] == 0xFF:
        marker = data[i + 1]
        if marker == 0xDA:  # start of scan: the picture itself, to the end
            break
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        segment = data[i : i + 2 + length]
        payload = segment[4:]
        if not any(marker == m and payload.startswith(tag) for m, tag in _METADATA):
            out += segment
        i += 2 + length
    return bytes(out + data[i:])


def fit_photo(data: bytes, *, budget: int) -> bytes | None:
    """A JPEG or PNG photo re-encoded as JPEG to at most `budget` bytes while it stays useful
    (long edge ≥ 800 px), or None when it cannot be made that small. GIFs are left alone: a
    re-encode would lose the animation."""
    image = _open(data)
    if image is None or image.format not in ("JPEG", "PNG", "WEBP", "HEIF"):
        return None
    for edge in FIT_EDGES:
        for quality in FIT_QUALITIES:
            fitted = _as_jpeg(image, edge=edge, quality=quality)
            if len(fitted) <= budget:
                return fitted
    return None
