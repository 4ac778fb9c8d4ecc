"""Inbound MMS (issue 14): the webhook records the files and answers at once; the download task
fetches each over real HTTP (from a small local server that answers as scripted), keeps a copy and
a thumbnail, and settles every failure as "not downloaded" with the original link, never losing
the message. The pages show pictures as thumbnails, SVG and other files as downloads only, the
group's participants, and how many files a message has."""

from __future__ import annotations

import csv
import io
import json
import re
import socket
import threading
import time
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from PIL import Image

from messaging.models import MediaState, Message, MessageMedia
from messaging.services import inbound_media
from messaging.services.inbound_media import media_download
from messaging.tasks import download_media_task, reconcile_stuck_task
from tests.conftest import load_fixture, make_user, run_tasks, sandbox_auth

pytestmark = pytest.mark.django_db

CUSTOMER = "15162065319"
OUR_DID = "15162065318"
HUGE = 50 * 1024 * 1024
SVG = (
    b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b"<script>alert(document.cookie)</script><rect width="
    b'"10" height="10"/></svg>'
)


def picture(fmt: str, colour: tuple[int, int, int], size=(640, 480)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, fmt)
    return out.getvalue()


PHOTOS = {
    "/parcel.jpg": picture("JPEG", (200, 30, 30)),
    "/receipt.png": picture("PNG", (30, 200, 30)),
    "/screen.jpg": picture("JPEG", (30, 30, 200), size=(1200, 2400)),
}


class MediaServer:
    """Answers as scripted per path and remembers what it was asked and how much it sent."""

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.sent: Counter[str] = Counter()
        self.redirect_to = ""
        self.flaky_failures = 2
        self.extra: dict[str, bytes] = {}  # more JPEGs to serve, by path
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def answer(self, status: int, body: bytes = b"", **headers: str) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name.replace("_", "-"), value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                server.sent[self.path] += len(body)

            def do_GET(self) -> None:
                path = self.path
                server.hits[path] += 1
                if path in PHOTOS or path in server.extra:
                    self.answer(200, {**PHOTOS, **server.extra}[path], Content_Type="image/jpeg")
                elif path == "/logo.svg":
                    self.answer(200, SVG, Content_Type="image/svg+xml")
                elif path == "/page.html":
                    self.answer(200, b"<!doctype html><p>hi</p>", Content_Type="text/html")
                elif path == "/missing.jpg":
                    self.answer(404, b"not found", Content_Type="text/plain")
                elif path == "/busy.jpg":
                    self.answer(503, b"try later", Content_Type="text/plain")
                elif path == "/flaky.jpg":
                    if server.hits[path] <= server.flaky_failures:
                        self.answer(503, b"try later")
                    else:
                        self.answer(200, PHOTOS["/parcel.jpg"], Content_Type="image/jpeg")
                elif path == "/slow.jpg":
                    time.sleep(1.5)  # past the read timeout the tests set
                    self.answer(200, PHOTOS["/parcel.jpg"], Content_Type="image/jpeg")
                elif path == "/named":
                    self.answer(
                        200,
                        PHOTOS["/receipt.png"],
                        Content_Type="image/jpeg",
                        Content_Disposition='attachment; filename="../../etc/my receipt.jpg"',
                    )
                elif path == "/redirect-private.jpg":
                    self.answer(302, Location=server.redirect_to)
                elif path == "/huge.jpg":
                    self.stream_huge(declare_length=False)
                elif path == "/huge-declared.jpg":
                    self.stream_huge(declare_length=True)
                else:
                    self.answer(404)

            def stream_huge(self, *, declare_length: bool) -> None:
                """A 50 MB "photo", written 64 KB at a time until the reader hangs up."""
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                if declare_length:
                    self.send_header("Content-Length", str(HUGE))
                self.end_headers()
                chunk = PHOTOS["/parcel.jpg"][:3] + b"\0" * (64 * 1024 - 3)
                try:
                    while server.sent[self.path] < HUGE:
                        self.wfile.write(chunk)
                        server.sent[self.path] += len(chunk)
                except OSError:
                    pass  # the portal stopped reading and closed the connection

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.host = f"127.0.0.1:{self.httpd.server_port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://{self.host}{path}"


@pytest.fixture
def media_server(settings):
    """The local media host, trusted by name (host:port) as a private host; a second server on
    another port of 127.0.0.1 is where the private redirect points, and it must never be asked."""
    server, elsewhere = MediaServer(), MediaServer()
    server.redirect_to = elsewhere.url("/parcel.jpg")
    for s in (server, elsewhere):
        s.thread.start()
    settings.MEDIA_DOWNLOAD_PRIVATE_HOSTS = [server.host]
    settings.MEDIA_DOWNLOAD_TIMEOUT = (2.0, 0.3)
    server.elsewhere = elsewhere
    yield server
    for s in (server, elsewhere):
        s.httpd.shutdown()
        s.httpd.server_close()


@pytest.fixture
def staff(db) -> Client:
    client = Client()
    client.force_login(make_user("ines", "Inbox staff"))
    return client


def mms_callback(urls: list[str], *, text: str = "", **fields) -> dict:
    payload = load_fixture("inbound_legacy")
    payload.update(message_sid=str(uuid.uuid4()), message=text, type="mms", media_urls=urls)
    payload.update(fields)
    return payload


def receive(urls: list[str], **kwargs) -> Message:
    """An inbound MMS through the webhook, as the carrier posts it."""
    response = Client(enforce_csrf_checks=True).post(
        reverse("webhook", args=[_secret()]),
        data=json.dumps(mms_callback(urls, **kwargs)),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    return Message.objects.order_by("-id").first()


def _secret() -> str:
    from django.conf import settings

    return settings.CARRIERX_WEBHOOK_SECRET


def files_of(message: Message) -> list[MessageMedia]:
    return list(message.media.order_by("position"))


def conversation_html(client: Client) -> str:
    response = client.get(reverse("messaging:conversation", args=[CUSTOMER]))
    assert response.status_code == 200
    return response.content.decode()


def text_of(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html)


def img_sources(html: str) -> list[str]:
    return re.findall(r'<img [^>]*src="([^"]+)"', html)


# --- the webhook stays fast ----------------------------------------------------------------------


def test_the_webhook_answers_at_once_and_downloads_nothing_inside_the_request(db, media_server):
    urls = [
        media_server.url("/slow.jpg"),
        media_server.url("/huge.jpg"),
        *map(media_server.url, PHOTOS),
    ]
    message = receive(urls, text="Photos of the damage")
    assert media_server.hits == Counter()  # nothing fetched while the carrier waited
    assert message.kind == "mms" and message.media_count == 5
    assert [(f.source_url, f.state) for f in files_of(message)] == [
        (url, MediaState.PENDING) for url in urls
    ]
    assert [r.args_kwargs["args"] for r in download_tasks()] == [[]]


# --- one download task per burst -----------------------------------------------------------------


def download_tasks(status: str | None = None) -> list[DBTaskResult]:
    found = DBTaskResult.objects.filter(task_path="messaging.tasks.download_media_task")
    return list(found.filter(status=status) if status else found)


def test_ten_mms_callbacks_queue_one_download_task_that_stores_every_file(
    transactional_db, media_server
):
    media_server.extra = {f"/burst-{n}.jpg": picture("JPEG", (n * 20, 90, 90)) for n in range(20)}
    messages = [
        receive(
            [media_server.url(f"/burst-{2 * n}.jpg"), media_server.url(f"/burst-{2 * n + 1}.jpg")]
        )
        for n in range(10)
    ]
    assert len(download_tasks()) == 1
    assert media_server.hits == Counter()

    assert run_tasks() == 1
    (run,) = download_tasks()
    assert (run.status, run.return_value) == ("SUCCESSFUL", "20 stored")
    for n, message in enumerate(messages):
        stored = [(f.state, f.file.read()) for f in files_of(message)]
        extra = media_server.extra
        assert stored == [
            (MediaState.STORED, extra[f"/burst-{2 * n}.jpg"]),
            (MediaState.STORED, extra[f"/burst-{2 * n + 1}.jpg"]),
        ]
    assert set(media_server.hits.values()) == {1}  # each file fetched once


def test_a_run_takes_the_oldest_files_first_up_to_its_limit_and_queues_itself_for_the_rest(
    transactional_db, media_server
):
    first = receive([media_server.url("/parcel.jpg"), media_server.url("/receipt.png")])
    second = receive([media_server.url("/screen.jpg"), media_server.url("/logo.svg")])
    DBTaskResult.objects.all().delete()

    assert media_download(limit=3) == "3 stored"
    assert [f.state for f in files_of(first) + files_of(second)] == [MediaState.STORED] * 3 + [
        MediaState.PENDING
    ]
    (next_run,) = download_tasks("READY")
    assert run_tasks() == 1
    next_run.refresh_from_db()
    assert next_run.return_value == "1 stored"
    assert files_of(second)[1].state == MediaState.STORED
    assert download_tasks("READY") == []  # nothing pending: the chain ends


def test_a_new_mms_does_not_wait_behind_a_download_queued_for_a_backoff(
    transactional_db, media_server, settings
):
    settings.SEND_BACKOFF_SECONDS = 60
    busy = receive([media_server.url("/busy.jpg")])
    run_tasks()
    (waiting,) = download_tasks("READY")
    assert files_of(busy)[0].attempts == 1 and waiting.run_after > timezone.now()

    fresh = receive([media_server.url("/parcel.jpg")])
    run_tasks()
    assert files_of(fresh)[0].state == MediaState.STORED
    # The busy file waits out its backoff: the run the new MMS queued did not fetch it again.
    assert media_server.hits["/busy.jpg"] == 1
    assert [t.run_after for t in download_tasks("READY")] == [waiting.run_after]


def test_a_file_another_run_has_claimed_is_not_fetched_again(media_server):
    message = receive([media_server.url("/parcel.jpg"), media_server.url("/receipt.png")])
    claimed, free = files_of(message)
    assert inbound_media._claim(claimed)  # a run on another worker is downloading it

    assert media_download() == "1 stored"
    assert media_server.hits == Counter({"/receipt.png": 1})
    assert [f.state for f in files_of(message)] == [MediaState.PENDING, MediaState.STORED]


def test_a_file_our_side_cannot_store_is_retried_then_shown_not_downloaded(
    transactional_db, media_server, settings, monkeypatch, staff
):
    settings.MEDIA_DOWNLOAD_ATTEMPTS = 2

    def broken(data):
        raise OSError("No space left on device")

    monkeypatch.setattr(inbound_media.media_files, "thumbnail", broken)
    message = receive([media_server.url("/parcel.jpg"), media_server.url("/logo.svg")])
    run_tasks()
    picture_file, svg = files_of(message)
    assert (picture_file.state, picture_file.attempts, picture_file.error) == (
        MediaState.FAILED,
        2,
        "could not be stored",
    )
    assert svg.state == MediaState.STORED  # no thumbnail to make: kept
    assert "Not downloaded: could not be stored." in conversation_html(staff)


def test_the_stuck_check_queues_a_download_for_pending_files_whose_task_was_lost(
    transactional_db, media_server
):
    message = receive([media_server.url("/parcel.jpg"), media_server.url("/receipt.png")])
    DBTaskResult.objects.all().delete()  # the worker that held it was killed, task and all

    reconcile_stuck_task.enqueue(False)
    run_tasks()
    assert [f.state for f in files_of(message)] == [MediaState.STORED] * 2
    assert [t.return_value for t in download_tasks()] == ["2 stored"]


def test_the_stuck_check_does_not_queue_a_second_download_beside_one_waiting(
    transactional_db, media_server
):
    receive([media_server.url("/parcel.jpg")])
    assert inbound_media.media_downloads_sweep() == "files pending, a download queued"
    DBTaskResult.objects.all().delete()
    assert inbound_media.media_downloads_sweep() == "files pending without a download: queued one"
    assert inbound_media.media_downloads_sweep() == "files pending, a download queued"
    assert len(download_tasks()) == 1
    run_tasks()
    assert inbound_media.media_downloads_sweep() == "no file pending"


def test_a_download_task_queued_with_a_message_id_before_the_change_still_runs(
    transactional_db, media_server
):
    message = receive([media_server.url("/parcel.jpg")])
    DBTaskResult.objects.all().delete()
    download_media_task.enqueue(message.pk)
    run_tasks()
    assert files_of(message)[0].state == MediaState.STORED


# --- downloads -----------------------------------------------------------------------------------


def test_three_images_are_downloaded_byte_identical_with_thumbnails_and_shown_as_thumbnails(
    media_server, staff
):
    message = receive([media_server.url(p) for p in PHOTOS])
    assert media_download() == "3 stored"

    files = files_of(message)
    assert [f.state for f in files] == [MediaState.STORED] * 3
    assert [f.name for f in files] == ["parcel.jpg", "receipt.png", "screen.jpg"]
    assert [f.content_type for f in files] == ["image/jpeg", "image/png", "image/jpeg"]
    for f, served in zip(files, PHOTOS.values(), strict=True):
        assert f.file.read() == served
        assert f.size == len(served)
        thumb = Image.open(f.thumbnail)
        assert thumb.format == "JPEG" and max(thumb.size) <= 320

    html = conversation_html(staff)
    assert img_sources(html) == [
        reverse("messaging:media_thumbnail", args=[f.token]) for f in files
    ]
    for f, served in zip(files, PHOTOS.values(), strict=True):
        full = reverse("messaging:media", args=[f.token])
        assert f'href="{full}"' in html
        response = staff.get(full)
        assert b"".join(response.streaming_content) == served
        assert response["X-Content-Type-Options"] == "nosniff"
    assert len(re.findall(r'<img [^>]*alt="[^"]+"', html)) == 3


def test_a_second_run_with_nothing_pending_fetches_nothing(media_server):
    message = receive([media_server.url("/parcel.jpg")])
    media_download()
    before = media_server.hits.copy()
    assert media_download() == "nothing to download"
    assert media_server.hits == before
    assert files_of(message)[0].state == MediaState.STORED


def test_the_type_comes_from_the_bytes_and_the_name_is_made_safe(media_server):
    message = receive([media_server.url("/named")])
    media_download()
    (f,) = files_of(message)
    # Served as image/jpeg named .jpg, but the bytes are a PNG; the path parts are dropped.
    assert (f.content_type, f.name) == ("image/png", "my_receipt.png")
    assert "/" not in f.name and ".." not in f.file.name


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/slow.jpg", "timed out"),
        ("/missing.jpg", "answered 404"),
        ("/huge.jpg", "larger than 5 MB"),
        ("/huge-declared.jpg", "larger than 5 MB"),
        ("/redirect-private.jpg", "redirects to a private address"),
        ("/page.html", "type text/html is not allowed"),
    ],
)
def test_a_file_that_cannot_be_downloaded_is_shown_not_downloaded_with_its_link_message_kept(
    media_server, staff, settings, path, reason
):
    settings.MEDIA_DOWNLOAD_ATTEMPTS = 1  # a timeout is retried; here the first one is the last
    url = media_server.url(path)
    message = receive([url, media_server.url("/parcel.jpg")], text="See attached")
    media_download()

    failed, fine = files_of(message)
    assert (failed.state, failed.error, failed.attempts) == (MediaState.FAILED, reason, 1)
    assert not failed.file and not failed.thumbnail
    assert fine.state == MediaState.STORED  # each file is settled on its own
    message.refresh_from_db()
    assert message.body == "See attached" and message.media_count == 2

    html = conversation_html(staff)
    assert f"Not downloaded: {reason}." in html
    assert f'href="{url}" rel="noreferrer noopener nofollow"' in html
    assert "Carrier's link to file 1" in html
    assert "See attached" in html
    detail = staff.get(reverse("messaging:message", args=[message.pk]))
    assert detail.status_code == 200 and f"Not downloaded: {reason}." in detail.content.decode()


def test_a_huge_file_is_not_read_past_the_cap(media_server):
    message = receive([media_server.url("/huge.jpg"), media_server.url("/huge-declared.jpg")])
    media_download()
    assert [f.error for f in files_of(message)] == ["larger than 5 MB"] * 2
    # The server writes until the portal hangs up: once it has stopped, it has sent at most the
    # cap plus what the two sockets' buffers hold, far from the 50 MB it offered.
    for _ in range(50):
        sent = dict(media_server.sent)
        time.sleep(0.1)
        if dict(media_server.sent) == sent:
            break
    assert 0 < media_server.sent["/huge.jpg"] < 20 * 1024 * 1024
    assert media_server.sent["/huge-declared.jpg"] < 20 * 1024 * 1024


def test_a_redirect_to_a_private_address_is_never_followed(media_server):
    message = receive([media_server.url("/redirect-private.jpg")])
    media_download()
    assert files_of(message)[0].error == "redirects to a private address"
    assert media_server.elsewhere.hits == Counter()


def test_a_redirect_to_a_private_address_is_not_followed_even_to_a_trusted_host(
    media_server, settings
):
    settings.MEDIA_DOWNLOAD_PRIVATE_HOSTS = [media_server.host, media_server.elsewhere.host]
    message = receive([media_server.url("/redirect-private.jpg")])
    media_download()
    assert files_of(message)[0].state == MediaState.FAILED
    assert media_server.elsewhere.hits == Counter()


def test_a_private_address_is_refused_unless_it_is_trusted(media_server, settings):
    settings.MEDIA_DOWNLOAD_PRIVATE_HOSTS = []
    message = receive([media_server.url("/parcel.jpg"), "http://[::1]:9/x.jpg"])
    media_download()
    assert [(f.state, f.error) for f in files_of(message)] == [
        (MediaState.FAILED, "points at a private address")
    ] * 2
    assert media_server.hits == Counter()


def test_a_name_that_resolves_public_for_the_check_and_private_for_the_connection_is_refused(
    media_server, settings, monkeypatch
):
    """DNS rebinding: the check sees a public address, the connection lands on 127.0.0.1. The
    address actually connected to is checked too, and nothing it sent is kept."""
    settings.MEDIA_DOWNLOAD_PRIVATE_HOSTS = []
    real = socket.getaddrinfo
    answers = iter([[(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 80))]])

    def rebinding(host, port, *args, **kwargs):
        if host == "media.example.test":
            return next(answers, None) or real("127.0.0.1", port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    url = media_server.url("/parcel.jpg").replace("127.0.0.1", "media.example.test")
    message = receive([url])
    media_download()
    (f,) = files_of(message)
    assert (f.state, f.error) == (MediaState.FAILED, "points at a private address")
    assert not f.file


def test_in_sandbox_mode_the_sandbox_host_is_trusted(media_server, settings):
    settings.MEDIA_DOWNLOAD_PRIVATE_HOSTS = []
    settings.CARRIERX_SANDBOX = True
    settings.CARRIERX_API_URL = f"http://{media_server.host}/sandbox/core/v2"
    message = receive([media_server.url("/parcel.jpg")])
    media_download()
    assert files_of(message)[0].state == MediaState.STORED


def test_outside_sandbox_mode_the_carrier_api_host_is_not_trusted(media_server, settings):
    reverse("messaging:inbox")  # the URLs load in sandbox mode, as the rest of the suite expects
    settings.MEDIA_DOWNLOAD_PRIVATE_HOSTS = []
    settings.CARRIERX_SANDBOX = False
    settings.CARRIERX_API_URL = f"http://{media_server.host}/core/v2"
    message = receive([media_server.url("/parcel.jpg")])
    media_download()
    assert files_of(message)[0].error == "points at a private address"


def test_transient_failures_are_retried_with_backoff_then_failed_after_the_attempts(
    transactional_db, media_server, settings, staff
):
    settings.MEDIA_DOWNLOAD_ATTEMPTS = 4
    message = receive([media_server.url("/busy.jpg"), media_server.url("/flaky.jpg")])
    run_tasks()

    busy, flaky = files_of(message)
    assert media_server.hits["/busy.jpg"] == 4
    assert (busy.state, busy.attempts, busy.error) == (MediaState.FAILED, 4, "answered 503")
    # Two 503s, then the file: kept, the earlier failures counted.
    assert media_server.hits["/flaky.jpg"] == 3
    assert (flaky.state, flaky.attempts, flaky.error) == (MediaState.STORED, 2, "")
    assert flaky.file.read() == PHOTOS["/parcel.jpg"]
    html = conversation_html(staff)
    assert "Not downloaded: answered 503." in html


def test_a_permanent_failure_is_not_retried(transactional_db, media_server):
    message = receive([media_server.url("/missing.jpg")])
    run_tasks()
    assert media_server.hits["/missing.jpg"] == 1
    assert files_of(message)[0].attempts == 1


def test_the_download_repaints_the_open_thread_and_inbox(media_server, staff):
    message = receive([media_server.url("/parcel.jpg")])
    conversation_html(staff)
    since = staff.get(reverse("messaging:inbox")).context["cursor"]
    media_download()
    poll = staff.get(
        reverse("messaging:conversation", args=[CUSTOMER]),
        {"since": since, "last": message.pk},
    )
    assert poll.status_code == 200
    (f,) = files_of(message)
    assert reverse("messaging:media_thumbnail", args=[f.token]) in poll.content.decode()
    assert staff.get(reverse("messaging:inbox"), {"since": since}).status_code == 200


# --- what the pages show -------------------------------------------------------------------------


def test_an_svg_is_offered_as_a_download_never_as_an_image(media_server, staff):
    message = receive([media_server.url("/logo.svg")])
    media_download()
    (f,) = files_of(message)
    assert (f.state, f.content_type, f.name) == (MediaState.STORED, "image/svg+xml", "logo.svg")
    assert not f.thumbnail

    url = reverse("messaging:media", args=[f.token])
    html = conversation_html(staff)
    assert img_sources(html) == []
    assert f'href="{url}" download="logo.svg"' in html
    assert f"SVG image · {len(SVG)} bytes" in html
    response = staff.get(url)
    assert response["Content-Disposition"].startswith("attachment")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]
    assert b"".join(response.streaming_content) == SVG


def test_a_person_without_the_inbox_role_cannot_fetch_an_inbound_file(media_server, client):
    message = receive([media_server.url("/parcel.jpg")])
    media_download()
    (f,) = files_of(message)
    for name in ("messaging:media", "messaging:media_thumbnail"):
        url = reverse(name, args=[f.token])
        assert client.get(url).status_code == 302  # a visitor is sent to sign in
        client.force_login(make_user(f"sam-{name[-5:]}", "Senders"))
        assert client.get(url).status_code == 403
        client.logout()


def test_a_group_mms_shows_every_participant(media_server, staff):
    message = receive(
        [media_server.url("/parcel.jpg")], group_recipients=["15162065580", "+1 516 206 5581"]
    )
    assert message.group_recipients == ["15162065580", "15162065581"]
    expected = "Group: +1 516-206-5319, +1 516-206-5318, +1 516-206-5580, +1 516-206-5581"
    assert expected in text_of(conversation_html(staff))
    detail = staff.get(reverse("messaging:message", args=[message.pk])).content.decode()
    assert expected in text_of(detail)


def test_pending_files_say_downloading(media_server, staff):
    receive([media_server.url("/parcel.jpg")])
    assert "Downloading…" in conversation_html(staff)


def test_the_inbox_counts_photos_and_files_on_a_last_message_without_text(media_server, staff):
    receive([media_server.url(p) for p in PHOTOS])
    media_download()
    html = staff.get(reverse("messaging:inbox")).content.decode()
    assert '<span class="mms-count">3 photos</span>' in html

    receive([media_server.url("/parcel.jpg"), media_server.url("/logo.svg")])
    media_download()
    html = staff.get(reverse("messaging:inbox")).content.decode()
    assert '<span class="mms-count">2 files</span>' in html


def test_the_messages_list_and_the_csv_export_count_files(media_server, staff):
    mms = receive([media_server.url(p) for p in PHOTOS], text="three")
    sms = receive([], text="just text", type="sms")
    html = staff.get(reverse("messaging:messages")).content.decode()
    assert "<th>Files</th>" in html
    row = re.search(rf'<tr id="message-{mms.pk}">.*?</tr>', html, re.S).group(0)
    assert 'data-label="Files">3<span class="visually-hidden"> files</span>' in row

    export = staff.get(reverse("messaging:messages_export"))
    text = b"".join(export.streaming_content).decode()
    rows = {r["id"]: r for r in csv.DictReader(io.StringIO(text, newline=""))}
    assert rows[str(mms.pk)]["files"] == "3"
    assert rows[str(sms.pk)]["files"] == "0"


# --- through the sandbox, as the carrier ---------------------------------------------------------


def test_our_copies_of_an_inbound_mms_through_the_sandbox_outlive_the_sandbox_purging_its_own(
    sandbox, live_server, settings
):
    """The sandbox posts the callback with its storage links, the worker downloads them from the
    sandbox's host (trusted in sandbox mode), and once the sandbox deletes its originals our
    copies still serve the same bytes."""
    settings.CARRIERX_SANDBOX = True
    settings.MEDIA_DOWNLOAD_PRIVATE_HOSTS = []
    uploads = [("media", (path.lstrip("/"), data, "image/jpeg")) for path, data in PHOTOS.items()]
    answered = requests.post(
        live_server.url + reverse("sandbox:simulate_inbound"),
        data={"from": "15162065574", "to": OUR_DID},
        files=uploads,
        headers=sandbox_auth(),
        timeout=10,
    )
    assert answered.status_code == 200, answered.text
    links = answered.json()["media_urls"]
    assert len(links) == 3

    run_tasks()

    message = Message.objects.get(message_sid=answered.json()["message_sid"])
    files = files_of(message)
    assert [(f.source_url, f.state) for f in files] == [(url, MediaState.STORED) for url in links]
    purged = requests.post(
        live_server.url + reverse("sandbox:control_media_purge"), headers=sandbox_auth(), timeout=10
    )
    assert purged.json() == {"purged": 3}
    assert all(requests.get(url, timeout=10).status_code == 404 for url in links)

    staff = Client()
    staff.force_login(make_user("ines", "Inbox staff"))
    for f, served in zip(files, PHOTOS.values(), strict=True):
        response = staff.get(reverse("messaging:media", args=[f.token]))
        assert b"".join(response.streaming_content) == served
    html = staff.get(reverse("messaging:conversation", args=["15162065574"])).content.decode()
    assert img_sources(html) == [
        reverse("messaging:media_thumbnail", args=[f.token]) for f in files
    ]
