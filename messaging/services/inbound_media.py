"""The files of an MMS the carrier told us about: recorded by the webhook, downloaded by the
worker and kept, since the carrier's links can expire.

A media URL comes from a callback body, so the download treats it as untrusted:

- only http(s), and never a private, loopback, link-local or reserved address (checked on the
  resolved addresses, and again on the address actually connected to), unless the host is one
  we were told to trust (MEDIA_DOWNLOAD_PRIVATE_HOSTS, or the sandbox's own host in sandbox
  mode); a redirect is never followed to a private address, trusted or not;
- at most MAX_REDIRECTS redirects, each checked like the first URL;
- connect and read timeouts, and a deadline for the whole body (a server that trickles a byte a
  second never times out a read);
- at most MEDIA_DOWNLOAD_MAX_BYTES read, whatever Content-Length says;
- the type read from the bytes (`media_files.sniff`), never from a header or a name.

Each file is settled on its own. What may pass (a timeout, a refused connection, a 5xx, a 429) is
tried again later with backoff, up to MEDIA_DOWNLOAD_ATTEMPTS; what cannot (another 4xx, too
big, a type we do not keep, a redirect to a private address) fails at once. A failed file keeps
its original link and its reason; the message is never touched beyond its `updated_at`.

One download task serves a burst of MMS: the webhook queues one only when none is waiting to
start (a task row per callback cost the webhook a write each, issue 14), and a run takes every
pending file that is due, oldest first, a bounded number per run, then queues the next run while
any file is pending. Each file is claimed (`retry_at` moved past the run) before it is fetched,
so two runs at once never fetch the same file. A pending file whose task was lost (a worker
killed, or a callback that committed just as the run meant to take it ended) is picked up by
`media_downloads_sweep`, which the periodic stuck check calls.
"""

from __future__ import annotations

import base64
import ipaddress
import logging
import os
import re
import socket
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import Message as MimeHeaders
from functools import cache
from pathlib import PurePosixPath
from urllib.parse import unquote, urljoin, urlsplit

import requests
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import connection
from django.db.models import F, Q
from django.utils import timezone
from django_tasks_db.models import DBTaskResult, get_date_max

from messaging import media_files
from messaging.models import INLINE_IMAGE_TYPES, MediaState, Message, MessageMedia
from portal.inserts import insert, insert_rows, insert_with_rows

logger = logging.getLogger(__name__)

MAX_REDIRECTS = 3
# The whole body must arrive within this many read timeouts.
BODY_DEADLINE_READS = 3
CHUNK = 64 * 1024
NAME_LIMIT = 100
USER_AGENT = "CarrierX-Messaging-Portal media download"
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


# As django-tasks records the task (this module cannot import messaging.tasks at load time).
DOWNLOAD_TASK = "messaging.tasks.download_media_task"
# Files one run takes at most; it queues the next run for the rest.
RUN_FILES = 20
# A file's token: as `models.media_token`, 192 random bits, 32 characters of URL-safe base64.
TOKEN_BYTES = 24
TOKEN_CHARS = TOKEN_BYTES * 4 // 3
# What each file row of a new MMS gives; every other column starts at its default.
FILE_COLUMNS = ("position", "token", "source_url")


def media_message_insert(message: Message, urls: list[str]) -> bool:
    """Insert a new MMS made from a callback with its files pending, as `insert(message,
    unless_exists="message_sid")` and `media_record` would, and say whether it was new (False:
    a row holds its SID already, and nothing was written).

    On PostgreSQL the message, its files and the question whether a download waits are one
    statement: an MMS then costs the webhook no round trip more than an SMS (bench/RESULTS.md,
    run K)."""
    if connection.vendor != "postgresql":
        if not insert(message, unless_exists="message_sid"):
            return False
        media_record(message, urls)
        return True
    now = timezone.now()
    found = insert_with_rows(
        message,
        unless_exists="message_sid",
        link="message_id",
        model=MessageMedia,
        columns=FILE_COLUMNS,
        rows=_file_rows(urls),
        fixed={"state": MediaState.PENDING, "created_at": now},
        returning=f"({_waiting_sql()})",
        params=_waiting_params(now),
    )
    if found is None:
        return False
    _, waiting = found
    if not waiting:
        _download_enqueue()
    return True


def media_record(message: Message, urls: list[str]) -> None:
    """Record each file of a message already inserted as pending, and queue a download with the
    webhook's transaction unless one waits to start already (it will take these files too), so
    the webhook answers at once and no file is forgotten if the worker is down.

    Kept to the file rows' one INSERT and little Python, so the webhook takes MMS nearly as fast
    as SMS (issue 14; bench/RESULTS.md, runs D, G and K): no model object per row
    (`portal.inserts.insert_rows`), and on PostgreSQL the question whether a download waits
    rides on that INSERT (no second round trip)."""
    now = timezone.now()
    rows = _file_rows(urls)
    fixed = {"message_id": message.pk, "state": MediaState.PENDING, "created_at": now}
    if connection.vendor == "sqlite":
        # SQLite runs in this process: a second statement costs no round trip, while the same
        # question in RETURNING cost it about eight times as much (bench/RESULTS.md, run K).
        insert_rows(MessageMedia, FILE_COLUMNS, rows, fixed=fixed)
        with connection.cursor() as cursor:
            cursor.execute(_waiting_sql(), _waiting_params(now))
            (waiting,) = cursor.fetchone()
    else:
        (waiting,) = insert_rows(
            MessageMedia,
            FILE_COLUMNS,
            rows,
            fixed=fixed,
            returning=f"({_waiting_sql()})",
            params=_waiting_params(now),
        )
    if not waiting:
        _download_enqueue()


def _file_rows(urls: list[str]) -> list[tuple[int, str, str]]:
    """(position, token, source_url) of each file. The tokens come from one read of the random
    source: TOKEN_BYTES is a multiple of 3, so each is its own TOKEN_CHARS of the encoded whole."""
    tokens = base64.urlsafe_b64encode(os.urandom(TOKEN_BYTES * len(urls))).decode()
    return [(i, tokens[i * TOKEN_CHARS : (i + 1) * TOKEN_CHARS], url) for i, url in enumerate(urls)]


def _download_enqueue() -> None:
    from messaging import tasks  # imported here: the tasks module imports this one

    tasks.download_media_task.enqueue()


def _waiting_params(now: datetime) -> list:
    return ["READY", DOWNLOAD_TASK, _no_run_after(), connection.ops.adapt_datetimefield_value(now)]


@cache
def _no_run_after():
    """What django-tasks-db stores for a task due at once (a date far ahead), prepared once."""
    run_after = DBTaskResult._meta.get_field("run_after")
    return run_after.get_db_prep_value(get_date_max(), connection)


@cache
def _waiting_sql() -> str:
    """Whether a download task is queued and due, not yet started (django-tasks-db's `ready()`,
    for this task). One due later (a retry's backoff) does not count: the new files would wait
    for it. Written once, not built by the ORM per callback: that cost more than everything
    else an MMS adds to the webhook (bench/RESULTS.md, run G)."""
    meta, quote = DBTaskResult._meta, connection.ops.quote_name
    status, path, run_after = (
        quote(meta.get_field(name).column) for name in ("status", "task_path", "run_after")
    )
    # `status` first: the queue's partial index holds only READY rows.
    return (
        f"SELECT COUNT(*) FROM (SELECT 1 FROM {quote(meta.db_table)} WHERE {status} = %s "
        f"AND {path} = %s AND ({run_after} = %s OR {run_after} <= %s) LIMIT 1) AS waiting"
    )


class DownloadFailed(Exception):
    """Why a file could not be downloaded, in words staff read ("answered 404")."""

    def __init__(self, reason: str, *, transient: bool = False, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.transient = transient
        self.retry_after = retry_after


@dataclass(frozen=True)
class Fetched:
    data: bytes
    name_hint: str  # the Content-Disposition filename or the URL's last path part; may be ""
    header_type: str  # what the server said, only for the refusal's words


def _megabytes(n: int) -> str:
    mb = n / (1024 * 1024)
    return f"{mb:.0f} MB" if mb == int(mb) else f"{mb:.1f} MB"


# --- where a URL may lead ------------------------------------------------------------------------


def _host_port(parts) -> tuple[str, int]:
    host = (parts.hostname or "").lower()
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise DownloadFailed("has an invalid port") from None
    return host, port


def _trusted(host: str, port: int) -> bool:
    """A host media may come from although it is a private address. Read at call time: the
    sandbox's address is known only once it runs."""
    trusted = {h.lower() for h in settings.MEDIA_DOWNLOAD_PRIVATE_HOSTS}
    if settings.CARRIERX_SANDBOX:
        sandbox = urlsplit(settings.CARRIERX_API_URL)
        sandbox_host, sandbox_port = _host_port(sandbox)
        trusted.add(f"{sandbox_host}:{sandbox_port}")
    return host in trusted or f"{host}:{port}" in trusted


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    # `is_global` is False for private, loopback, link-local, reserved, shared (100.64/10) and
    # unspecified addresses; multicast is "global" for some ranges but is never a file server.
    return ip.is_global and not ip.is_multicast


def _private(redirected: bool) -> str:
    return "redirects to a private address" if redirected else "points at a private address"


def _check_destination(url: str, *, redirected: bool) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DownloadFailed("is not an http(s) URL")
    host, port = _host_port(parts)
    if not redirected and _trusted(host, port):
        return
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise DownloadFailed(f"host {host} could not be resolved", transient=True) from None
    if not all(_public(info[4][0]) for info in found):
        raise DownloadFailed(_private(redirected))


def _peer_address(response: requests.Response) -> str | None:
    """The address the response came from, or None where the connection cannot be read."""
    try:
        return response.raw._fp.fp.raw._sock.getpeername()[0]
    except (AttributeError, OSError, IndexError, TypeError):
        return None


def _peer_is_allowed(response: requests.Response, url: str, *, redirected: bool) -> bool:
    """The address actually connected to passes too: a name can resolve to a public address for
    the check and to a private one for the connection (DNS rebinding). Where the connection
    cannot be read, the check before it stands."""
    peer = _peer_address(response)
    if peer is None or _public(peer):
        return True
    host, port = _host_port(urlsplit(url))
    return not redirected and _trusted(host, port)


# --- one download --------------------------------------------------------------------------------


def _name_hint(response: requests.Response, url: str) -> str:
    disposition = response.headers.get("Content-Disposition", "")
    if disposition:
        headers = MimeHeaders()
        headers["Content-Disposition"] = disposition
        filename = headers.get_filename()
        if filename:
            return filename
    return unquote(PurePosixPath(urlsplit(url).path).name)


def _read_capped(response: requests.Response, deadline: float) -> bytes:
    limit = settings.MEDIA_DOWNLOAD_MAX_BYTES
    too_big = DownloadFailed(f"larger than {_megabytes(limit)}")
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_big
    received = bytearray()
    for chunk in response.iter_content(CHUNK):
        received += chunk
        if len(received) > limit:
            raise too_big
        if time.monotonic() > deadline:
            raise DownloadFailed("timed out", transient=True)
    return bytes(received)


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    return float(value) if value.isdigit() else None


def _fetch(session: requests.Session, url: str) -> Fetched:
    read_timeout = settings.MEDIA_DOWNLOAD_TIMEOUT[1]
    for hop in range(MAX_REDIRECTS + 1):
        redirected = hop > 0
        _check_destination(url, redirected=redirected)
        try:
            response = session.get(
                url,
                stream=True,
                allow_redirects=False,
                timeout=settings.MEDIA_DOWNLOAD_TIMEOUT,
                headers={"Accept-Encoding": "identity", "User-Agent": USER_AGENT},
            )
        except requests.Timeout:
            raise DownloadFailed("timed out", transient=True) from None
        except requests.ConnectionError:
            raise DownloadFailed("could not connect", transient=True) from None
        except requests.RequestException as err:
            raise DownloadFailed(f"could not be fetched ({type(err).__name__})") from None
        with response:
            if not _peer_is_allowed(response, url, redirected=redirected):
                raise DownloadFailed(_private(redirected))
            status = response.status_code
            if response.is_redirect:
                url = urljoin(url, response.headers["Location"])
                continue
            if status == 429 or status >= 500:
                raise DownloadFailed(
                    f"answered {status}", transient=True, retry_after=_retry_after(response)
                )
            if status != 200:
                raise DownloadFailed(f"answered {status}")
            try:
                data = _read_capped(response, time.monotonic() + BODY_DEADLINE_READS * read_timeout)
            except requests.Timeout:
                raise DownloadFailed("timed out", transient=True) from None
            except requests.RequestException:
                raise DownloadFailed("was cut off while downloading", transient=True) from None
            header_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
            return Fetched(data=data, name_hint=_name_hint(response, url), header_type=header_type)
    raise DownloadFailed(f"redirects more than {MAX_REDIRECTS} times")


def _safe_name(hint: str, *, position: int, content_type: str) -> str:
    """A file name to show and to download under: the sender's name made safe, with the
    extension of the type the bytes are (a name says `.jpg` as easily as anything else)."""
    stem, dot, _ = PurePosixPath(hint.replace("\\", "/")).name.rpartition(".")
    # A last path part without an extension is an id (`/f/<uuid>`), not a name anyone chose.
    stem = _UNSAFE_NAME.sub("_", stem if dot else "").strip("._-")[: NAME_LIMIT - 10]
    return f"{stem or f'file-{position + 1}'}.{media_files.extension(content_type)}"


def _typed(fetched: Fetched) -> tuple[bytes, str]:
    if not fetched.data:
        raise DownloadFailed("answered an empty file")
    content_type = media_files.sniff(fetched.data)
    if content_type == media_files.HEIC:
        jpeg = media_files.heic_to_jpeg(fetched.data)
        if jpeg is None:
            raise DownloadFailed("is a HEIC photo that could not be converted")
        return jpeg, "image/jpeg"
    if content_type not in media_files.TYPES:
        said = (fetched.header_type or "unknown")[:60]
        raise DownloadFailed(f"type {said} is not allowed")
    return fetched.data, content_type


def _store(media: MessageMedia, fetched: Fetched) -> bool:
    data, content_type = _typed(fetched)
    name = _safe_name(fetched.name_hint, position=media.position, content_type=content_type)
    media.file.save(name, ContentFile(data), save=False)
    if content_type in INLINE_IMAGE_TYPES:
        small = media_files.thumbnail(data)
        if small is not None:
            media.thumbnail.save(f"{name.rpartition('.')[0]}.jpg", ContentFile(small), save=False)
    # Only a file still pending is settled: a run that outlived its claim may have stored it.
    return bool(
        MessageMedia.objects.filter(pk=media.pk, state=MediaState.PENDING).update(
            file=media.file.name,
            thumbnail=media.thumbnail.name or "",
            name=name,
            content_type=content_type,
            size=len(data),
            state=MediaState.STORED,
            error="",
            retry_at=None,
        )
    )


def _record_failure(media: MessageMedia, failed: DownloadFailed) -> bool:
    """Count the attempt; True when it will be tried again, after a backoff."""
    from messaging.services import outbound  # imported here: it imports this module

    attempts = media.attempts + 1
    again = failed.transient and attempts < settings.MEDIA_DOWNLOAD_ATTEMPTS
    delay = outbound.retry_delay(attempts, failed.retry_after) if again else 0
    MessageMedia.objects.filter(pk=media.pk, state=MediaState.PENDING).update(
        attempts=attempts,
        error=failed.reason[:300],
        state=MediaState.PENDING if again else MediaState.FAILED,
        retry_at=timezone.now() + timedelta(seconds=delay) if again else None,
    )
    return again


def _pending_due(now: datetime):
    return MessageMedia.objects.filter(
        Q(retry_at__isnull=True) | Q(retry_at__lte=now), state=MediaState.PENDING
    )


def _claim(media: MessageMedia) -> bool:
    """Take the file for this run, unless another run took it (or settled it) meanwhile. The
    claim lasts a task lease: a run killed midway leaves its files to the next run after that."""
    now = timezone.now()
    until = now + timedelta(seconds=settings.TASK_LEASE_SECONDS)
    return bool(_pending_due(now).filter(pk=media.pk).update(retry_at=until))


def _settle(session: requests.Session, media: MessageMedia, outcomes: dict[str, int]) -> None:
    try:
        _store(media, _fetch(session, media.source_url))
        outcomes["stored"] += 1
        return
    except DownloadFailed as failed:
        logger.info("media %s of message %s: %s", media.pk, media.message_id, failed.reason)
        problem = failed
    except Exception:
        # Our side (the storage full, a picture that crashes the thumbnailer): counted like a
        # timeout, so the file is tried again and then shown not downloaded, never left claimed
        # and retried for ever.
        logger.exception("media %s of message %s could not be stored", media.pk, media.message_id)
        problem = DownloadFailed("could not be stored", transient=True)
    outcomes["retry" if _record_failure(media, problem) else "failed"] += 1


def _repaint(message_id: int) -> None:
    """The thread's poll repaints messages changed since it last asked; the inbox, conversations."""
    from messaging.services import carrier_events  # imported here: it imports this module

    Message.objects.filter(pk=message_id).update(updated_at=timezone.now())
    message = Message.objects.filter(pk=message_id).only("their_number").first()
    if message is not None:
        carrier_events.conversation_touch(message)


def media_download(*, limit: int = RUN_FILES) -> str:
    """Download the pending files that are due, of every inbound MMS, oldest first: at most
    `limit`, and none started once the run has used a third of the task lease (a file may take
    a minute: connect, and the body's deadline), so a live run is never taken for a dead one.
    Each file is settled on its own; those that may pass are tried again after a backoff. The
    next run is queued while any file is pending. Nothing due: nothing fetched."""
    started = time.monotonic()
    budget = settings.TASK_LEASE_SECONDS / 3
    batch = list(_pending_due(timezone.now()).order_by("id")[:limit])
    outcomes = {"stored": 0, "failed": 0, "retry": 0}
    repaint: int | None = None
    try:
        with requests.Session() as session:
            for media in batch:
                if time.monotonic() - started > budget:
                    break
                if not _claim(media):
                    continue
                if repaint is not None and repaint != media.message_id:
                    _repaint(repaint)
                repaint = media.message_id
                _settle(session, media, outcomes)
    finally:
        if repaint is not None:
            _repaint(repaint)
        _queue_next()
    return ", ".join(f"{n} {what}" for what, n in outcomes.items() if n) or "nothing to download"


def _queue_next() -> None:
    """Queue a run for the pending file due first (now, or when its backoff ends), unless a run
    that starts by then is queued already; a later one is brought forward, not doubled."""
    from messaging import tasks  # imported here: the tasks module imports this one

    first = list(
        MessageMedia.objects.filter(state=MediaState.PENDING)
        .order_by(F("retry_at").asc(nulls_first=True))
        .values_list("retry_at", flat=True)[:1]
    )
    if not first:
        return
    now = timezone.now()
    due = max(first[0] or now, now)
    never = get_date_max()  # what django-tasks-db stores for "no run_after": due at once
    waiting = list(
        DBTaskResult.objects.filter(task_path=DOWNLOAD_TASK, status="READY")
        .order_by("run_after")
        .values_list("pk", "run_after")[:10]
    )
    if any(run_after == never or run_after <= due for _, run_after in waiting):
        return
    if waiting:
        DBTaskResult.objects.filter(pk=waiting[0][0], status="READY").update(run_after=due)
    elif due > now:
        tasks.download_media_task.using(run_after=due).enqueue()
    else:
        tasks.download_media_task.enqueue()


def media_downloads_sweep() -> str:
    """For the periodic stuck check: pending files with no download task queued or running get
    one (a worker killed with the task, or a callback that committed just after the run that
    would have taken its files looked). A task left RUNNING by a dead worker is the lease
    reaper's, which runs first."""
    from messaging import tasks  # imported here: the tasks module imports this one

    if not MessageMedia.objects.filter(state=MediaState.PENDING).exists():
        return "no file pending"
    if DBTaskResult.objects.filter(
        task_path=DOWNLOAD_TASK, status__in=["READY", "RUNNING"]
    ).exists():
        return "files pending, a download queued"
    tasks.download_media_task.enqueue()
    logger.warning("inbound files pending without a download task: queued one")
    return "files pending without a download: queued one"
