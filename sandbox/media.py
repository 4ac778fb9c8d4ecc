"""MMS media at the sandbox carrier: the limits (CARRIERX-MORE.md §4.2, and the sandbox's choices
where the docs are silent, in sandbox/README.md), checking `media_urls` / `group_recipients` in a
request, fetching media in the background, and keeping files as storage-like links.

Fetching never happens inside a request: the portal that serves the media may be the very process
answering the sandbox's API (one `runserver`, one live test server).
"""

from __future__ import annotations

import hashlib
import mimetypes
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import requests
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.urls import reverse

from sandbox.callback_targets import callback_target, without_credentials
from sandbox.models import SandboxMedia, SandboxMessage
from sandbox.updates import url_problem

MAX_FILES = 10
# "up to 3 MB" in all; read as MiB, the portal's own bound (settings.MMS_MAX_BYTES), so what the
# portal lets through the sandbox does not fail.
MAX_TOTAL_BYTES = 3 * 1024 * 1024
MAX_URL_LENGTH = 2000
# Participants of a group message, "including the sender's DID".
MAX_PARTICIPANTS = 10
ALLOWED_TYPES = frozenset(
    {
        "image/jpeg",
        "image/png",
        "image/gif",
        "image/webp",
        "video/mp4",
        "video/3gpp",
        "audio/mpeg",
        "audio/amr",
        "audio/mp4",
        "application/pdf",
        "text/vcard",
        "text/x-vcard",
        "text/plain",
    }
)
FETCH_TIMEOUT = (5, 15)  # (connect, read) seconds, per socket operation
# However slowly a server drips bytes, one file never takes longer than this in all.
FETCH_DEADLINE_SECONDS = 60
CHUNK_BYTES = 64 * 1024
MAX_NAME_LENGTH = 200
# ASCII digits only, as for `from`/`to` (sandbox/sms.py).
NUMBER = re.compile(r"[0-9]{10,15}")
UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")


class MediaError(Exception):
    """Why a message's media cannot be carried; the text is shown as the message's reason."""


@dataclass(frozen=True)
class MediaFile:
    name: str
    content_type: str
    data: bytes
    source_url: str = ""

    @property
    def size(self) -> int:
        return len(self.data)


def media_type(header: str | None) -> str:
    """`image/jpeg; charset=binary` → `image/jpeg`."""
    return (header or "").split(";")[0].strip().lower()


def _size(count: int) -> str:
    return f"{count / (1024 * 1024):.1f} MB"


LIMIT_TEXT = f"{_size(MAX_TOTAL_BYTES)} ({MAX_TOTAL_BYTES:,} bytes)"


# --- What a request may say ---------------------------------------------------------------------


def check_media_urls(errors: list, value: object) -> list[str]:
    """`media_urls` as sent: null or an array of up to 10 absolute http(s) URL strings of at most
    2,000 characters. Whether each answers, and with what, is only known once fetched."""
    if value is None:
        return []
    if not isinstance(value, list):
        errors.append(("media_urls", "must be an array of URL strings"))
        return []
    if len(value) > MAX_FILES:
        errors.append(("media_urls", f"must hold at most {MAX_FILES} URLs, not {len(value)}"))
        return []
    problems = []
    for position, url in enumerate(value, 1):
        if not isinstance(url, str):
            problems.append(f"item {position} must be a URL string")
        elif len(url) > MAX_URL_LENGTH:
            problems.append(f"item {position} must be at most {MAX_URL_LENGTH} characters")
        elif url_problem(url):
            problems.append(f"item {position} must be an absolute http:// or https:// URL")
    errors.extend(("media_urls", problem) for problem in problems)
    return [] if problems else value


def check_group_recipients(errors: list, value: object, *, participants: Iterable[str]) -> list:
    """`group_recipients`: null or an array of E.164 digit strings; with `participants` (the
    sender and `to`) at most 10 distinct numbers."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(
        isinstance(number, str) and NUMBER.fullmatch(number) for number in value
    ):
        errors.append(
            ("group_recipients", "must be an array of numbers, 10 to 15 digits without '+'")
        )
        return []
    everyone = set(value) | {number for number in participants if number}
    if len(everyone) > MAX_PARTICIPANTS:
        errors.append(
            (
                "group_recipients",
                f"a group message has at most {MAX_PARTICIPANTS} numbers, the sender's included",
            )
        )
        return []
    return value


def _clean_name(name: str, fallback: str) -> str:
    name = UNPRINTABLE.sub("", name).strip().replace("/", "_")
    return name[:MAX_NAME_LENGTH] or fallback


def uploaded_media(errors: list, uploads: list[UploadedFile]) -> list[MediaFile]:
    """Files a handset attached (multipart `media`): at most 10, 3 MB in all, allowed types only
    (the browser's stated type, or failing that the one the file name implies)."""
    if len(uploads) > MAX_FILES:
        errors.append(("media", f"attach at most {MAX_FILES} files, not {len(uploads)}"))
        return []
    total = sum(upload.size or 0 for upload in uploads)
    if total > MAX_TOTAL_BYTES:
        errors.append(("media", f"the files add up to {_size(total)}; at most {LIMIT_TEXT}"))
        return []
    files, problems = [], []
    for position, upload in enumerate(uploads, 1):
        name = _clean_name(upload.name or "", f"media-{position}")
        content_type = media_type(upload.content_type)
        if content_type not in ALLOWED_TYPES:
            content_type = media_type(mimetypes.guess_type(name)[0])
        if content_type not in ALLOWED_TYPES:
            shown = media_type(upload.content_type) or "of no stated type"
            problems.append(f"{name} is {shown}, which MMS does not carry")
            continue
        data = upload.read(MAX_TOTAL_BYTES + 1)
        if not data:
            problems.append(f"{name} is empty")
            continue
        files.append(MediaFile(name=name, content_type=content_type, data=data))
    if sum(file.size for file in files) > MAX_TOTAL_BYTES:  # the stated sizes were wrong
        problems.append(f"the files add up to more than {LIMIT_TEXT}")
    errors.extend(("media", problem) for problem in problems)
    return [] if problems else files


# --- Fetching -----------------------------------------------------------------------------------


def _name_from_url(url: str, position: int) -> str:
    try:
        path = urlsplit(url).path
    except ValueError:
        path = ""
    return _clean_name(unquote(path.rsplit("/", 1)[-1]), f"media-{position}")


def _fetch_one(session: requests.Session, position: int, url: str, budget: int) -> MediaFile:
    shown = f"media {position} ({without_credentials(url)})"
    target = callback_target(
        url,
        public_url=settings.PUBLIC_URL,
        allowed_hosts=settings.SANDBOX_CALLBACK_HOSTS,
        own_path="/",
    )
    if target.refused:
        raise MediaError(f"{shown} may not be fetched: {target.refused}")
    deadline = time.monotonic() + FETCH_DEADLINE_SECONDS
    try:
        with session.get(
            target.url,
            headers={
                "User-Agent": "carrierx-sandbox",
                # Compressed bodies could inflate past the cap before it is checked.
                "Accept-Encoding": "identity",
                **target.headers,
            },
            timeout=FETCH_TIMEOUT,
            # Where a redirect points was never checked against the policy.
            allow_redirects=False,
            stream=True,
        ) as response:
            if response.status_code != 200:
                redirect = " (a redirect; they are not followed)" if response.is_redirect else ""
                raise MediaError(f"{shown} answered HTTP {response.status_code}{redirect}")
            content_type = media_type(response.headers.get("Content-Type"))
            if content_type not in ALLOWED_TYPES:
                raise MediaError(
                    f"{shown} is {content_type or 'of no stated type'}, which MMS does not carry"
                )
            if media_type(response.headers.get("Content-Encoding")) not in ("", "identity"):
                raise MediaError(f"{shown} came compressed, though it was asked not to")
            declared = response.headers.get("Content-Length", "")
            if declared.isascii() and declared.isdigit() and int(declared) > budget:
                raise MediaError(f"the media add up to more than {LIMIT_TEXT}")
            chunks, size = [], 0
            for chunk in response.iter_content(CHUNK_BYTES):
                size += len(chunk)
                if size > budget:
                    raise MediaError(f"the media add up to more than {LIMIT_TEXT}")
                if time.monotonic() > deadline:
                    raise MediaError(f"{shown} took longer than {FETCH_DEADLINE_SECONDS} s")
                chunks.append(chunk)
    except requests.Timeout:
        raise MediaError(f"{shown} did not answer in time") from None
    except requests.RequestException as err:
        raise MediaError(f"{shown} could not be fetched ({type(err).__name__})") from None
    return MediaFile(
        name=_name_from_url(url, position),
        content_type=content_type,
        data=b"".join(chunks),
        source_url=url,
    )


def media_fetch(urls: list[str]) -> list[MediaFile]:
    """GET every URL, in order, within the limits; the first that breaks them raises MediaError
    (the carrier: "the message will fail and will not be sent out")."""
    files: list[MediaFile] = []
    # Its own session: no proxies or .netrc credentials from the environment.
    with requests.Session() as session:
        session.trust_env = False
        for position, url in enumerate(urls, 1):
            budget = MAX_TOTAL_BYTES - sum(file.size for file in files)
            files.append(_fetch_one(session, position, url, budget))
    return files


# --- Keeping ------------------------------------------------------------------------------------


def storage_url(media: SandboxMedia) -> str:
    """The file's absolute link, at the sandbox's own address: the base of its API URL
    (CARRIERX_API_URL in sandbox mode, `…/sandbox/core/v2`), else PUBLIC_URL."""
    path = reverse("sandbox:storage", args=[media.uuid])
    api_url = settings.CARRIERX_API_URL.rstrip("/")
    mount = reverse("sandbox:control").removesuffix("control")  # "/sandbox/"
    if api_url.endswith(mount + "core/v2"):
        return api_url.removesuffix(mount + "core/v2") + path
    return settings.PUBLIC_URL.rstrip("/") + path


def media_store(*, message: SandboxMessage, files: list[MediaFile]) -> list[SandboxMedia]:
    """Keep the files as the message's media, in order."""
    return SandboxMedia.objects.bulk_create(
        SandboxMedia(
            message=message,
            direction=message.direction,
            content_type=file.content_type,
            name=file.name,
            size=file.size,
            sha256=hashlib.sha256(file.data).hexdigest(),
            data=file.data,
            source_url=file.source_url,
        )
        for file in files
    )


def media_json(media: SandboxMedia) -> dict:
    return {
        "content_type": media.content_type,
        "direction": media.direction,
        "message_sid": media.message.message_sid if media.message else None,
        "name": media.name,
        "sha256": media.sha256,
        "size": media.size,
        "source_url": media.source_url,
        "url": storage_url(media),
    }
