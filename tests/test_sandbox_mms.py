"""The sandbox carries MMS as the carrier does (CARRIERX-MORE.md §4): `POST /sms/messages` with
`media_urls` / `group_recipients` is an MMS of one segment at its own price, sent only from a DID
with the send-MMS bit; its media are fetched in the background from a real HTTP server, kept
byte for byte at storage-like links, or the message fails with the reason. Inbound MMS come from
the simulator (URLs it fetches, or uploaded files) with storage links in the callback. All over
real HTTP, with callbacks caught by a real receiver."""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from django.urls import reverse

from sandbox import media as sandbox_media
from sandbox.models import SandboxDid, SandboxMedia, SandboxMessage
from sandbox.seed import SMS_ONLY_DID, seed
from tests.conftest import run_tasks, sandbox_auth

pytest_plugins = ["tests.callback_sink"]
pytestmark = pytest.mark.django_db(transaction=True)

MAIN_LINE = "15162065575"
INBOUND_LINE = "15162065318"
HANDSET = "15162065574"
FRIEND = "12125550142"

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
JPEG = b"\xff\xd8\xff\xe0" + b"\x10JFIF" + bytes(reversed(range(256))) * 20
PDF = b"%PDF-1.4\n" + b"receipt " * 500 + b"\n%%EOF"


# --- A real media server --------------------------------------------------------------------------


@dataclass
class Route:
    body: bytes = b""
    content_type: str = "image/png"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    # False: no Content-Length, the body ends when the connection closes.
    says_length: bool = True


@dataclass
class MediaServer:
    """Serves `routes` (path → Route) over HTTP and counts the GETs it answered."""

    url: str = ""
    routes: dict[str, Route] = field(default_factory=dict)
    hits: list[str] = field(default_factory=list)

    @property
    def host_port(self) -> str:
        return self.url.removeprefix("http://")

    def serve(self, path: str, body: bytes, content_type: str = "image/png", **more) -> str:
        self.routes[path] = Route(body=body, content_type=content_type, **more)
        return self.url + path


def _media_handler(server: MediaServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            server.hits.append(self.path)
            route = server.routes.get(self.path, Route(status=404, body=b"not here"))
            time.sleep(route.delay)
            self.send_response(route.status)
            self.send_header("Content-Type", route.content_type)
            if route.says_length:
                self.send_header("Content-Length", str(len(route.body)))
            for name, value in route.headers.items():
                self.send_header(name, value)
            self.end_headers()
            # The sandbox may stop reading (over the size cap): that is its right.
            with contextlib.suppress(OSError):
                self.wfile.write(route.body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


def _running_media_server() -> Iterator[MediaServer]:
    server = MediaServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _media_handler(server))
    httpd.daemon_threads = True
    server.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
def media_server(allow_callbacks_to) -> Iterator[MediaServer]:
    """A media host the sandbox may fetch from (listed in SANDBOX_CALLBACK_HOSTS)."""
    for server in _running_media_server():
        allow_callbacks_to(server.host_port)
        yield server


@pytest.fixture
def unlisted_media_server() -> Iterator[MediaServer]:
    """A media host on 127.0.0.1 that nobody listed: the sandbox must not fetch from it."""
    yield from _running_media_server()


@pytest.fixture
def world(sandbox, callback_sink):
    """The seeded sandbox over the live server; its SMS callbacks go to a real receiver."""
    seed(sms_callback_url=callback_sink.url + "/sms")
    return sandbox


# --- Asking the sandbox -------------------------------------------------------------------------


def api_url(live_server, name: str, *args) -> str:
    return live_server.url + reverse(f"sandbox:{name}", args=args)


def send(live_server, body: dict) -> requests.Response:
    return requests.post(
        api_url(live_server, "sms_messages"), json=body, headers=sandbox_auth(), timeout=10
    )


def simulate(live_server, **kwargs) -> requests.Response:
    return requests.post(
        api_url(live_server, "simulate_inbound"), headers=sandbox_auth(), timeout=10, **kwargs
    )


def kept_media(live_server, message_sid: str) -> list[dict]:
    response = requests.get(
        api_url(live_server, "control_media"),
        params={"message_sid": message_sid},
        headers=sandbox_auth(),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def error_fields(response: requests.Response) -> list:
    return [error["field"] for error in response.json()["errors"]]


# --- Sending an MMS -----------------------------------------------------------------------------


def test_an_mms_is_one_segment_of_type_mms_at_the_mms_price_and_echoes_its_media_urls(
    world, live_server, media_server, callback_sink
):
    urls = [media_server.serve("/cat.png", PNG)]
    body = {"from": MAIN_LINE, "to": HANDSET, "media_urls": urls, "group_recipients": []}

    response = send(live_server, body)

    assert response.status_code == 200, response.text
    queued = response.json()
    assert (queued["type"], queued["message_segments"], queued["status"]) == ("mms", 1, "queued")
    assert queued["media_urls"] == urls
    assert queued["message"] is None  # no text: the carrier answers null
    assert media_server.hits == []  # nothing is fetched inside the request

    run_tasks()

    sent, delivered = callback_sink.bodies("/sms")
    assert [sent["status"], delivered["status"]] == ["sent", "delivered"]
    for callback in (sent, delivered):
        assert (callback["type"], callback["message_segments"]) == ("mms", 1)
        assert callback["media_urls"] == urls  # the original URLs, as sent
        assert callback["group_recipients"] == []
        assert callback["price"] == "0.02"  # per message, not per segment
    stored = SandboxMessage.objects.get(message_sid=queued["message_sid"])
    assert (stored.status, stored.price) == ("delivered", SandboxMessage.PRICE_PER_MMS)


def test_a_long_mms_text_is_still_one_segment_and_one_price(
    world, live_server, media_server, callback_sink
):
    body = {
        "from": MAIN_LINE,
        "to": HANDSET,
        "message": "é" * 1600,  # ten SMS parts' worth of UCS-2
        "media_urls": [media_server.serve("/a.png", PNG)],
    }
    queued = send(live_server, body).json()
    assert (queued["message_segments"], queued["message"]) == (1, "é" * 1600)

    run_tasks()

    assert {callback["price"] for callback in callback_sink.bodies()} == {"0.02"}


def test_a_group_mms_is_charged_per_recipient_and_keeps_its_recipients(
    world, live_server, callback_sink
):
    group = [MAIN_LINE, HANDSET, FRIEND]
    body = {"from": MAIN_LINE, "to": HANDSET, "message": "Dinner?", "group_recipients": group}

    queued = send(live_server, body).json()
    run_tasks()

    assert (queued["type"], queued["group_recipients"]) == ("mms", group)
    delivered = callback_sink.bodies("/sms")[-1]
    assert (delivered["status"], delivered["group_recipients"]) == ("delivered", group)
    assert delivered["price"] == "0.04"  # two recipients besides the sender


def test_the_sandbox_keeps_each_fetched_file_byte_identical_at_a_storage_link(
    world, live_server, media_server
):
    urls = [
        media_server.serve("/photos/cat.png", PNG),
        media_server.serve("/photos/dog.jpg", JPEG, "image/jpeg"),
        media_server.serve("/receipt.pdf", PDF, "application/pdf"),
    ]
    queued = send(live_server, {"from": MAIN_LINE, "to": HANDSET, "media_urls": urls}).json()

    run_tasks()

    kept = kept_media(live_server, queued["message_sid"])
    assert [(item["source_url"], item["name"]) for item in kept] == [
        (urls[0], "cat.png"),
        (urls[1], "dog.jpg"),
        (urls[2], "receipt.pdf"),
    ]
    assert [item["sha256"] for item in kept] == [sha256(PNG), sha256(JPEG), sha256(PDF)]
    assert [item["size"] for item in kept] == [len(PNG), len(JPEG), len(PDF)]
    assert [item["content_type"] for item in kept] == ["image/png", "image/jpeg", "application/pdf"]
    for item, original in zip(kept, (PNG, JPEG, PDF), strict=True):
        assert item["url"].startswith(live_server.url + "/sandbox/storage/f/")
        served = requests.get(item["url"], timeout=10)  # no sign-in, like carrier storage links
        assert served.status_code == 200
        assert served.content == original
        assert served.headers["Content-Type"] == item["content_type"]
        assert served.headers["X-Content-Type-Options"] == "nosniff"
        assert served.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert (
        requests.get(kept[0]["url"], timeout=10).headers["Content-Disposition"].startswith("inline")
    )
    assert (
        requests.get(kept[2]["url"], timeout=10)
        .headers["Content-Disposition"]
        .startswith("attachment")
    )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"media_urls": [f"https://example.com/{n}.png" for n in range(11)]}, "media_urls"),
        ({"media_urls": "https://example.com/cat.png"}, "media_urls"),
        ({"media_urls": [42]}, "media_urls"),
        ({"media_urls": ["ftp://example.com/cat.png"]}, "media_urls"),
        ({"media_urls": ["/relative/cat.png"]}, "media_urls"),
        ({"media_urls": ["https://example.com/" + "a" * 1990]}, "media_urls"),
        ({"group_recipients": "15162065574"}, "group_recipients"),
        ({"group_recipients": ["+1 516 206 5574"]}, "group_recipients"),
        ({"group_recipients": [f"1212555{n:04d}" for n in range(10)]}, "group_recipients"),
        ({"media_urls": ["https://example.com/cat.png"], "message": "x" * 1601}, "message"),
    ],
)
def test_a_malformed_mms_is_refused_naming_the_field_and_nothing_is_stored(
    world, live_server, changes, field
):
    body = {"from": MAIN_LINE, "to": HANDSET, "message": "Hi", **changes}

    response = send(live_server, body)

    assert response.status_code == 422, response.text
    assert error_fields(response) == [field]
    assert response.json()["message"] == "object validation error"
    assert not SandboxMessage.objects.exists()


def test_ten_media_urls_and_ten_group_numbers_with_the_sender_are_within_the_limits(
    world, live_server
):
    group = [MAIN_LINE, HANDSET] + [f"1212555{n:04d}" for n in range(8)]
    body = {
        "from": MAIN_LINE,
        "to": HANDSET,
        "media_urls": [f"https://example.com/{n}.png" for n in range(10)],
        "group_recipients": group,
    }
    assert send(live_server, body).status_code == 200


def test_a_did_without_the_send_mms_bit_is_refused_as_a_did_without_sms_is(world, live_server):
    did = SandboxDid.objects.get(phonenumber=SMS_ONLY_DID)
    assert did.can(SandboxDid.SEND_SMS) and not did.can(SandboxDid.SEND_MMS)
    body = {"from": SMS_ONLY_DID, "to": HANDSET, "media_urls": ["https://example.com/cat.png"]}

    response = send(live_server, body)

    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["field"] == "from"
    assert error["message"] == f"{SMS_ONLY_DID} cannot send MMS (its active capabilities lack 16)"
    assert not SandboxMessage.objects.exists()
    # Its texts still go.
    assert send(live_server, {"from": SMS_ONLY_DID, "to": HANDSET, "message": "Hi"}).ok


def test_the_seeded_dids_have_the_mms_bits_except_the_one_sms_only_did(world):
    texting = SandboxDid.objects.filter(partner=world, capabilities__gt=SandboxDid.VOICE)
    bits = {did.phonenumber: (did.capabilities, did.active_capabilities) for did in texting}
    assert bits.pop(SMS_ONLY_DID) == (7, 7)
    assert set(bits.values()) == {(31, 31)}
    assert len(bits) == 9


def test_reseeding_a_database_seeded_before_mms_gives_the_dids_their_mms_bits(world):
    SandboxDid.objects.filter(phonenumber=MAIN_LINE).update(capabilities=7, active_capabilities=7)
    SandboxDid.objects.filter(phonenumber=INBOUND_LINE).update(
        capabilities=7, active_capabilities=4, messaging_status="disabled"
    )

    seed(sms_callback_url=None)

    main, inbound = (SandboxDid.objects.get(phonenumber=n) for n in (MAIN_LINE, INBOUND_LINE))
    assert (main.capabilities, main.active_capabilities) == (31, 31)
    assert (inbound.capabilities, inbound.active_capabilities) == (31, 4)  # still disabled


# --- Media that cannot be carried fail the message ------------------------------------------------


def failed_with(callback_sink, queued: dict) -> str:
    """The message failed without ever being sent; its one callback says why."""
    stored = SandboxMessage.objects.get(message_sid=queued["message_sid"])
    assert stored.status == "failed"
    assert not stored.media.exists()
    [callback] = callback_sink.bodies("/sms")
    assert (callback["status"], callback["type"]) == ("failed", "mms")
    assert callback["media_urls"] == queued["media_urls"]
    assert callback["price"] == "0"  # never sent out, never charged
    assert callback["error_message"] == stored.error_message
    return stored.error_message


def test_media_over_3_mb_in_all_fail_the_message_with_the_reason(
    world, live_server, media_server, callback_sink
):
    half = b"\0" * (sandbox_media.MAX_TOTAL_BYTES // 2 + 1)
    urls = [media_server.serve("/1.png", half), media_server.serve("/2.png", half)]
    queued = send(live_server, {"from": MAIN_LINE, "to": HANDSET, "media_urls": urls}).json()

    run_tasks()

    assert failed_with(callback_sink, queued) == (
        "MMS not sent: the media add up to more than 3.0 MB (3,145,728 bytes)"
    )


def test_one_file_over_3_mb_that_does_not_say_its_length_is_cut_off_and_fails(
    world, live_server, media_server, callback_sink
):
    big = b"\0" * (sandbox_media.MAX_TOTAL_BYTES + 10)
    url = media_server.serve("/big.png", big, says_length=False)
    queued = send(live_server, {"from": MAIN_LINE, "to": HANDSET, "media_urls": [url]}).json()

    run_tasks()

    assert "more than 3.0 MB" in failed_with(callback_sink, queued)


def test_a_media_url_answering_404_fails_the_message(
    world, live_server, media_server, callback_sink
):
    good = media_server.serve("/cat.png", PNG)
    gone = media_server.url + "/gone.png"
    body = {"from": MAIN_LINE, "to": HANDSET, "media_urls": [good, gone]}
    queued = send(live_server, body).json()

    run_tasks()

    assert failed_with(callback_sink, queued) == f"MMS not sent: media 2 ({gone}) answered HTTP 404"


@pytest.mark.parametrize("content_type", ["text/html", "image/svg+xml", ""])
def test_a_type_mms_does_not_carry_fails_the_message(
    world, live_server, media_server, callback_sink, content_type
):
    url = media_server.serve("/page", b"<svg onload=alert(1)>", content_type)
    queued = send(live_server, {"from": MAIN_LINE, "to": HANDSET, "media_urls": [url]}).json()

    run_tasks()

    reason = failed_with(callback_sink, queued)
    assert reason.endswith("which MMS does not carry")
    assert (content_type or "of no stated type") in reason


def test_a_redirect_is_not_followed_and_fails_the_message(
    world, live_server, media_server, callback_sink
):
    media_server.serve("/elsewhere.png", PNG)
    url = media_server.serve(
        "/moved.png", b"", status=302, headers={"Location": media_server.url + "/elsewhere.png"}
    )
    queued = send(live_server, {"from": MAIN_LINE, "to": HANDSET, "media_urls": [url]}).json()

    run_tasks()

    assert "answered HTTP 302 (a redirect; they are not followed)" in failed_with(
        callback_sink, queued
    )
    assert media_server.hits == ["/moved.png"]


def test_a_host_outside_the_callback_policy_is_never_fetched_and_fails_the_message(
    world, live_server, unlisted_media_server, callback_sink
):
    url = unlisted_media_server.serve("/cat.png", PNG)
    queued = send(live_server, {"from": MAIN_LINE, "to": HANDSET, "media_urls": [url]}).json()

    run_tasks()

    assert "may not be fetched: 127.0.0.1 is a loopback address" in failed_with(
        callback_sink, queued
    )
    assert unlisted_media_server.hits == []


def test_a_media_host_that_does_not_answer_in_time_fails_the_message(
    world, live_server, media_server, callback_sink, monkeypatch
):
    monkeypatch.setattr(sandbox_media, "FETCH_TIMEOUT", (5, 0.3))
    url = media_server.serve("/slow.png", PNG, delay=2)
    queued = send(live_server, {"from": MAIN_LINE, "to": HANDSET, "media_urls": [url]}).json()

    run_tasks()

    assert (
        failed_with(callback_sink, queued)
        == f"MMS not sent: media 1 ({url}) did not answer in time"
    )


def test_the_portals_own_media_paths_may_be_fetched_without_listing_its_host(
    world, live_server, settings
):
    # Rule 1 of the callback policy, widened for media to any path of the portal's origin: here
    # the sandbox fetches one of its own storage links from the live server (the portal's host).
    upload = simulate(
        live_server,
        data={"from": HANDSET, "to": INBOUND_LINE},
        files={"media": ("cat.png", PNG, "image/png")},
    ).json()
    assert live_server.url == settings.PUBLIC_URL
    body = {"from": MAIN_LINE, "to": HANDSET, "media_urls": upload["media_urls"]}
    queued = send(live_server, body).json()

    run_tasks()

    [kept] = kept_media(live_server, queued["message_sid"])
    assert kept["sha256"] == sha256(PNG)


# --- Inbound MMS --------------------------------------------------------------------------------


def test_an_inbound_mms_with_media_urls_reaches_the_portal_with_storage_links(
    world, live_server, media_server, callback_sink
):
    sources = [
        media_server.serve("/a.jpg", JPEG, "image/jpeg"),
        media_server.serve("/b.png", PNG),
        media_server.serve("/card.vcf", b"BEGIN:VCARD\r\nEND:VCARD\r\n", "text/vcard"),
    ]
    group = [HANDSET, INBOUND_LINE, FRIEND]
    body = {
        "from": HANDSET,
        "to": INBOUND_LINE,
        "message": "The parcel arrived like this",
        "media_urls": sources,
        "group_recipients": group,
    }

    response = simulate(live_server, json=body)
    assert response.status_code == 200, response.text
    assert media_server.hits == []  # fetched in the background, not in the request
    run_tasks()

    [callback] = callback_sink.bodies("/sms")
    assert (callback["direction"], callback["status"], callback["type"]) == (
        "inbound",
        "received",
        "mms",
    )
    assert callback["message_segments"] == 1
    assert callback["message"] == "The parcel arrived like this"
    assert callback["group_recipients"] == group
    assert len(callback["media_urls"]) == 3
    for link, original in zip(callback["media_urls"], (JPEG, PNG), strict=False):
        assert link.startswith(live_server.url + "/sandbox/storage/f/")
        assert requests.get(link, timeout=10).content == original
    kept = kept_media(live_server, callback["message_sid"])
    assert [item["url"] for item in kept] == callback["media_urls"]
    assert [item["source_url"] for item in kept] == sources


def test_an_inbound_mms_with_uploaded_files_reaches_the_portal_with_storage_links(
    world, live_server, callback_sink
):
    response = simulate(
        live_server,
        data={"from": HANDSET, "to": INBOUND_LINE, "group_recipients": f"{HANDSET},{FRIEND}"},
        files=[
            ("media", ("cat.png", PNG, "image/png")),
            ("media", ("receipt.pdf", PDF, "application/pdf")),
        ],
    )
    assert response.status_code == 200, response.text
    answered = response.json()
    assert (answered["type"], answered["message"], answered["message_segments"]) == (
        "mms",
        None,
        1,
    )

    run_tasks()

    [callback] = callback_sink.bodies("/sms")
    assert callback["media_urls"] == answered["media_urls"]
    assert callback["group_recipients"] == [HANDSET, FRIEND]
    assert callback["price"] == "0.02"
    png, pdf = (requests.get(link, timeout=10) for link in callback["media_urls"])
    assert (png.content, png.headers["Content-Type"]) == (PNG, "image/png")
    assert (pdf.content, pdf.headers["Content-Type"]) == (PDF, "application/pdf")
    assert pdf.headers["Content-Disposition"] == 'attachment; filename="receipt.pdf"'


def test_an_inbound_mms_whose_media_cannot_be_fetched_is_failed_and_not_called_back(
    world, live_server, media_server, callback_sink
):
    body = {"from": HANDSET, "to": INBOUND_LINE, "media_urls": [media_server.url + "/none.png"]}
    answered = simulate(live_server, json=body).json()

    run_tasks()

    assert callback_sink.received == []
    stored = SandboxMessage.objects.get(message_sid=answered["message_sid"])
    assert stored.status == "failed"
    assert "answered HTTP 404" in stored.error_message


def test_an_inbound_mms_to_a_did_without_the_receive_mms_bit_is_refused(world, live_server):
    response = simulate(
        live_server,
        data={"from": HANDSET, "to": SMS_ONLY_DID, "message": "Look"},
        files={"media": ("cat.png", PNG, "image/png")},
    )

    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["field"] == "to"
    assert "cannot receive MMS" in error["message"]
    assert not SandboxMessage.objects.exists()
    assert not SandboxMedia.objects.exists()


@pytest.mark.parametrize(
    ("files", "reason"),
    [
        ([("media", (f"{n}.png", PNG, "image/png")) for n in range(11)], "at most 10 files"),
        (
            [("media", (f"{n}.png", b"\0" * 1_100_000, "image/png")) for n in range(3)],
            "at most 3.0 MB",
        ),
        ([("media", ("page.html", b"<html>", "text/html"))], "text/html, which MMS does not"),
        ([("media", ("empty.png", b"", "image/png"))], "empty.png is empty"),
    ],
)
def test_uploads_past_the_limits_are_refused_with_the_reason(world, live_server, files, reason):
    response = simulate(live_server, data={"from": HANDSET, "to": INBOUND_LINE}, files=files)

    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    assert error["field"] == "media"
    assert reason in error["message"]
    assert not SandboxMedia.objects.exists()


def test_a_form_whose_file_input_is_empty_is_an_sms(world, live_server):
    # What a browser sends for a file input left empty: a part with no file name.
    response = simulate(
        live_server,
        data={"from": HANDSET, "to": INBOUND_LINE, "message": "Hi"},
        files={"media": ("", b"", "application/octet-stream")},
    )

    assert response.status_code == 200, response.text
    assert (response.json()["type"], response.json()["media_urls"]) == ("sms", [])
    assert not SandboxMedia.objects.exists()


# --- Storage links and the media controls ---------------------------------------------------------


def test_purging_the_sandbox_media_makes_its_links_answer_404(world, live_server):
    answered = simulate(
        live_server,
        data={"from": HANDSET, "to": INBOUND_LINE},
        files={"media": ("cat.png", PNG, "image/png")},
    ).json()
    [link] = answered["media_urls"]
    assert requests.get(link, timeout=10).status_code == 200

    purged = requests.post(
        api_url(live_server, "control_media_purge"), headers=sandbox_auth(), timeout=10
    )

    assert purged.status_code == 200
    assert purged.json() == {"purged": 1}
    assert requests.get(link, timeout=10).status_code == 404
    assert kept_media(live_server, answered["message_sid"]) == []
    # The message still lists the link, as an expired carrier link is still in the SMS object.
    assert SandboxMessage.objects.get().media_urls == [link]


def test_purging_one_messages_media_keeps_the_others(world, live_server):
    first, second = (
        simulate(
            live_server,
            data={"from": HANDSET, "to": INBOUND_LINE},
            files={"media": (name, PNG, "image/png")},
        ).json()
        for name in ("one.png", "two.png")
    )

    purged = requests.post(
        api_url(live_server, "control_media_purge"),
        json={"message_sid": first["message_sid"]},
        headers=sandbox_auth(),
        timeout=10,
    )

    assert purged.json() == {"purged": 1}
    assert requests.get(first["media_urls"][0], timeout=10).status_code == 404
    assert requests.get(second["media_urls"][0], timeout=10).status_code == 200


def test_the_media_controls_need_staff_or_the_token_but_links_need_nothing(world, live_server):
    answered = simulate(
        live_server,
        data={"from": HANDSET, "to": INBOUND_LINE},
        files={"media": ("cat.png", PNG, "image/png")},
    ).json()

    listing = requests.get(api_url(live_server, "control_media"), timeout=10)
    purge = requests.post(api_url(live_server, "control_media_purge"), timeout=10)

    assert (listing.status_code, purge.status_code) == (401, 401)
    assert requests.get(answered["media_urls"][0], timeout=10).status_code == 200
    assert SandboxMedia.objects.count() == 1


def test_a_storage_link_answers_head_with_the_type_and_length(world, live_server):
    answered = simulate(
        live_server,
        data={"from": HANDSET, "to": INBOUND_LINE},
        files={"media": ("cat.png", PNG, "image/png")},
    ).json()

    head = requests.head(answered["media_urls"][0], timeout=10)

    assert head.status_code == 200
    assert (head.headers["Content-Type"], head.headers["Content-Length"]) == (
        "image/png",
        str(len(PNG)),
    )


def test_a_storage_link_that_never_existed_answers_404(world, live_server):
    link = api_url(live_server, "storage", "0b0c1b4e-2f39-4c58-9b7e-5b6bd0bba3a1")
    assert requests.get(link, timeout=10).status_code == 404


# --- The handset page ---------------------------------------------------------------------------


def test_the_handset_sends_attached_pictures_as_an_mms_and_shows_them(
    world, staff_client, callback_sink
):
    response = staff_client.post(
        reverse("sandbox:phone"),
        {
            "handset": HANDSET,
            "did": INBOUND_LINE,
            "message": "",
            "media": [
                _upload("cat.png", PNG, "image/png"),
                _upload("receipt.pdf", PDF, "application/pdf"),
            ],
        },
    )
    assert response.status_code == 302
    run_tasks()

    [callback] = callback_sink.bodies("/sms")
    assert (callback["type"], len(callback["media_urls"])) == ("mms", 2)
    page = staff_client.get(reverse("sandbox:phone"), {"handset": HANDSET}).content.decode()
    png, pdf = SandboxMedia.objects.all()
    assert f'<img src="/sandbox/storage/f/{png.uuid}" alt="cat.png"' in page
    assert f'<a href="/sandbox/storage/f/{pdf.uuid}" class="media-file">receipt.pdf</a>' in page


def test_the_handset_shows_pictures_the_portal_sent_it_inline(
    world, live_server, staff_client, media_server
):
    url = media_server.serve("/menu.png", PNG)
    send(live_server, {"from": MAIN_LINE, "to": HANDSET, "media_urls": [url]})
    run_tasks()

    page = staff_client.get(reverse("sandbox:phone"), {"handset": HANDSET}).content.decode()

    [kept] = SandboxMedia.objects.all()
    assert kept.direction == "outbound"
    assert f'<img src="/sandbox/storage/f/{kept.uuid}" alt="menu.png"' in page
    assert 'type="file" id="handset-media" name="media" multiple' in page
    assert 'enctype="multipart/form-data"' in page


def _upload(name: str, data: bytes, content_type: str):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type=content_type)
