"""Pictures and files from the composer (MMS): checked by their bytes and the carrier's limits in
the form, stored with the message before it is queued, fetched by the carrier from our public
URLs, and refused before any carrier call from a DID that cannot send MMS."""

from __future__ import annotations

import hashlib
import html
import io
import json
import random
import re
from pathlib import Path

import pytest
import requests
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django_tasks_db.models import DBTaskResult
from PIL import Image

from messaging.models import Direction, MediaState, Message, MessageMedia, Status
from messaging.services import outbound
from messaging.services.carrier_events import conversation_add_message
from messaging.services.outbound import find_at_carrier, message_send
from messaging.services.outbound_media import Attachment, safe_name
from phone_numbers.models import Did
from phone_numbers.sync import numbers_sync
from portal.carrierx import CarrierXError
from sandbox.models import SandboxMessage
from tests.conftest import make_user, run_tasks, sandbox_auth

SEND_URL = "/messaging/"
OUR_DID = "15162065575"
SMS_ONLY_DID = "15162065580"  # the sandbox's seeded DID without the MMS bits
CUSTOMER = "15162065574"
MB = 1024 * 1024


def picture(color: str, *, size=(96, 64), kind: str = "PNG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, kind)
    return out.getvalue()


def noise_png(width: int, height: int) -> bytes:
    """A PNG of random pixels: incompressible, so big, but JPEG makes it small."""
    pixels = random.Random(14).randbytes(width * height * 3)
    out = io.BytesIO()
    Image.frombytes("RGB", (width, height), pixels).save(out, "PNG", compress_level=1)
    return out.getvalue()


def upload(name: str, data: bytes, content_type: str = "application/octet-stream"):
    return SimpleUploadedFile(name, data, content_type=content_type)


def pdf(size: int) -> bytes:
    return b"%PDF-1.4\n" + b"0" * (size - 9)


def send(client, files, *, message="Here are the photos", from_did=OUR_DID, **headers):
    return client.post(
        SEND_URL,
        {
            "from_did": from_did,
            "to_did": "+1 (516) 206-5574",
            "message": message,
            "attachments": files,
        },
        headers=headers,
    )


def stored_files(settings) -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def assert_nothing_stored_or_queued(settings) -> None:
    assert not Message.objects.exists()
    assert not MessageMedia.objects.exists()
    assert stored_files(settings) == []
    assert not DBTaskResult.objects.exists()
    assert not SandboxMessage.objects.exists()


def sandbox_media(live_server, message_sid: str) -> list[dict]:
    response = requests.get(
        f"{live_server.url}{reverse('sandbox:control_media')}",
        params={"message_sid": message_sid},
        headers=sandbox_auth(),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def synced(sandbox, sender_client):
    """A sync has read our numbers from the sandbox (pages never call the carrier)."""
    numbers_sync()
    return sender_client


def test_three_pictures_reach_the_carrier_from_our_public_urls_byte_for_byte_and_end_delivered(
    synced, live_server, settings
):
    pictures = [
        upload("parcel.png", picture("red"), "image/png"),
        upload("label.jpg", picture("green", kind="JPEG"), "image/jpeg"),
        upload("receipt.gif", picture("blue", kind="GIF"), "image/gif"),
    ]
    sent = {f.name: hashlib.sha256(f.read()).hexdigest() for f in pictures}
    for f in pictures:
        f.seek(0)

    response = send(synced, pictures, message="Your parcel, as it arrived")

    assert response.status_code == 302
    message = Message.objects.get()
    assert message.kind == "mms"
    assert message.media_count == 3
    assert message.status == "sending"
    media = list(message.media.order_by("position"))
    assert [(m.name, m.content_type, m.state) for m in media] == [
        ("parcel.png", "image/png", MediaState.STORED),
        ("label.jpg", "image/jpeg", MediaState.STORED),
        ("receipt.gif", "image/gif", MediaState.STORED),
    ]
    assert all(m.thumbnail and m.size == m.file.size for m in media)
    assert not SandboxMessage.objects.exists()  # stored first; the carrier is called by the worker

    run_tasks()

    message.refresh_from_db()
    carrier_copy = SandboxMessage.objects.get(message_sid=message.message_sid)
    assert carrier_copy.media_urls == [m.public_url for m in media]
    assert all(url.startswith(live_server.url + "/media/") for url in carrier_copy.media_urls)
    assert carrier_copy.message == "Your parcel, as it arrived"
    assert carrier_copy.type == "mms"
    fetched = sandbox_media(live_server, message.message_sid)
    assert [(f["name"], f["sha256"]) for f in fetched] == list(sent.items())
    assert message.status == "delivered"
    assert message.kind == "mms"
    assert message.segments == 1


def test_pictures_alone_are_sent_without_text(synced, live_server):
    response = send(synced, [upload("a.png", picture("red"))], message="  ")

    assert response.status_code == 302
    run_tasks()
    message = Message.objects.get()
    assert message.body == ""
    assert message.status == "delivered"
    carrier_copy = SandboxMessage.objects.get(message_sid=message.message_sid)
    assert carrier_copy.message in ("", None)
    assert len(sandbox_media(live_server, message.message_sid)) == 1


def test_no_text_and_no_files_is_still_refused(synced, settings):
    response = send(synced, [], message="")

    assert response.status_code == 422
    assert "Type a message to send." in response.content.decode()
    assert_nothing_stored_or_queued(settings)


def test_eleven_files_are_refused_in_the_form_and_nothing_is_stored_or_queued(synced, settings):
    files = [upload(f"p{i}.png", picture("red")) for i in range(11)]

    response = send(synced, files)

    assert response.status_code == 422
    page = response.content.decode()
    assert "At most 10 files in one message; you attached 11." in page
    assert "Attach your files again" in page
    assert_nothing_stored_or_queued(settings)


def test_ten_files_are_accepted(synced):
    assert send(synced, [upload(f"p{i}.png", picture("red")) for i in range(10)]).status_code == 302
    assert MessageMedia.objects.count() == 10


def test_3_1_mb_of_pdfs_is_refused_with_the_total(synced, settings):
    total = int(3.1 * MB)
    files = [upload("terms.pdf", pdf(total // 2)), upload("invoice.pdf", pdf(total - total // 2))]

    response = send(synced, files)

    assert response.status_code == 422
    assert (
        "3.1 MB attached; the carrier takes at most 3 MB per message." in response.content.decode()
    )
    assert_nothing_stored_or_queued(settings)


def test_a_big_photo_is_re_encoded_to_fit_and_sent(synced, live_server):
    big = noise_png(1500, 1400)
    assert len(big) > 6 * MB

    response = send(synced, [upload("scan.png", big, "image/png"), upload("t.pdf", pdf(500_000))])

    assert response.status_code == 302
    photo, document = Message.objects.get().media.order_by("position")
    assert photo.content_type == "image/jpeg"
    assert photo.name == "scan.jpg"
    assert photo.size + document.size <= 3 * MB
    with photo.file.open("rb") as f:
        fitted = Image.open(f)
        assert fitted.format == "JPEG"
        assert max(fitted.size) >= 800  # still a useful photo
    assert document.size == 500_000  # only photos are re-encoded
    run_tasks()
    message = Message.objects.get()
    assert message.status == "delivered"
    assert [f["size"] for f in sandbox_media(live_server, message.message_sid)] == [
        photo.size,
        500_000,
    ]


def test_a_file_handsets_cannot_show_is_refused_by_its_bytes_naming_it(synced, settings):
    files = [
        upload("receipt.html", b"<html><script>alert(1)</script></html>", "image/png"),
        upload("fine.png", picture("red")),
    ]

    response = send(synced, files)

    assert response.status_code == 422
    assert (
        "receipt.html is not a picture or a file handsets can show (JPEG, PNG, GIF, WebP, HEIC, "
        "MP4, MP3, AMR, PDF, vCard)" in response.content.decode()
    )
    assert_nothing_stored_or_queued(settings)


def test_an_empty_file_and_a_damaged_picture_are_refused_naming_each(synced, settings):
    damaged = picture("red")[:40]
    response = send(synced, [upload("empty.pdf", b""), upload("cut.png", damaged)])

    page = response.content.decode()
    assert response.status_code == 422
    assert "empty.pdf is empty." in page
    assert "cut.png looks like a PNG image but cannot be read" in page
    assert_nothing_stored_or_queued(settings)


def test_a_did_without_the_send_mms_bit_cannot_attach(synced, settings):
    page = synced.get(SEND_URL).content.decode()
    refusals = re.search(r'data-mms-refusals="([^"]*)"', page).group(1)
    assert json.loads(html.unescape(refusals)) == {
        SMS_ONLY_DID: "+1 516-206-5580 cannot send pictures or files (MMS is not enabled on it). "
        "Pick another From DID, or send the text alone."
    }

    response = send(synced, [upload("a.png", picture("red"))], from_did=SMS_ONLY_DID)

    assert response.status_code == 422
    assert (
        "+1 516-206-5580 cannot send pictures or files (MMS is not enabled on it). Pick another "
        "From DID, or send the text alone." in response.content.decode()
    )
    assert_nothing_stored_or_queued(settings)
    # The text alone goes.
    assert send(synced, [], from_did=SMS_ONLY_DID).status_code == 302


def test_a_did_that_lost_the_mms_bit_after_queueing_is_refused_before_the_carrier(synced):
    message = message_send(
        from_number=OUR_DID,
        to=CUSTOMER,
        body="Photo",
        attachments=[Attachment(name="a.png", content_type="image/png", data=picture("red"))],
    )
    Did.objects.filter(phonenumber=OUR_DID).update(active_capabilities=7)

    run_tasks()

    message.refresh_from_db()
    assert message.status == "failed"
    assert message.error == (
        "Not sent: +1 516-206-5575 cannot send pictures or files (MMS is not enabled on it). "
        "Pick another From DID, or send the text alone."
    )
    assert message.send_attempts == 1
    assert not SandboxMessage.objects.exists()


@pytest.fixture
def conversation(synced):
    inbound = Message.objects.create(
        direction=Direction.INBOUND,
        our_number=OUR_DID,
        their_number=CUSTOMER,
        body="Can you send a photo of the part?",
        status=Status.RECEIVED,
    )
    conversation_add_message(inbound)
    synced.force_login(make_user("ines", "Inbox staff", "Senders"))
    return synced


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "plain"])
def test_a_reply_with_a_picture_from_a_conversation_is_sent_as_mms(conversation, live_server, htmx):
    headers = {"HX-Request": "true"} if htmx else {}
    response = conversation.post(
        reverse("messaging:reply", args=[CUSTOMER]),
        {
            "from_did": OUR_DID,
            "message": "This one?",
            "attachments": [upload("part.jpg", picture("gray", kind="JPEG"))],
        },
        headers=headers,
    )

    assert response.status_code == (200 if htmx else 302)
    reply = Message.objects.get(direction=Direction.OUTBOUND)
    assert (reply.kind, reply.media_count, reply.their_number) == ("mms", 1, CUSTOMER)
    run_tasks()
    reply.refresh_from_db()
    assert reply.status == "delivered"
    assert [f["name"] for f in sandbox_media(live_server, reply.message_sid)] == ["part.jpg"]


def test_a_reply_from_a_did_that_cannot_send_mms_says_why_in_the_composer(conversation, settings):
    response = conversation.post(
        reverse("messaging:reply", args=[CUSTOMER]),
        {"from_did": SMS_ONLY_DID, "message": "", "attachments": [upload("a.png", picture("red"))]},
        headers={"HX-Request": "true"},
    )

    page = response.content.decode()
    assert "+1 516-206-5580 cannot send pictures or files" in page
    assert 'enctype="multipart/form-data"' in page
    assert not Message.objects.filter(direction=Direction.OUTBOUND).exists()
    assert not MessageMedia.objects.exists()


def heic_photo() -> bytes:
    import pillow_heif

    out = io.BytesIO()
    try:
        pillow_heif.from_pillow(Image.new("RGB", (120, 80), "orange")).save(out, quality=80)
    except Exception as err:  # no HEVC encoder in this build of libheif
        pytest.skip(f"pillow-heif cannot write HEIC here: {err}")
    return out.getvalue()


def test_a_heic_photo_is_converted_to_jpeg_and_sent(synced, live_server):
    heic = heic_photo()

    response = send(synced, [upload("IMG_0042.HEIC", heic, "image/heic")])

    assert response.status_code == 302
    media = MessageMedia.objects.get()
    assert (media.name, media.content_type) == ("IMG_0042.jpg", "image/jpeg")
    with media.file.open("rb") as f:
        assert f.read(3) == b"\xff\xd8\xff"
    run_tasks()
    message = Message.objects.get()
    assert message.status == "delivered"
    assert [f["content_type"] for f in sandbox_media(live_server, message.message_sid)] == [
        "image/jpeg"
    ]


def test_the_public_url_serves_the_exact_bytes_without_sign_in(synced, live_server):
    data = pdf(2000)
    send(synced, [upload("terms.pdf", data), upload("a.png", picture("red"))])
    document, image = Message.objects.get().media.order_by("position")

    answer = requests.get(document.public_url, timeout=10)  # no cookies: the carrier's fetch
    assert answer.status_code == 200
    assert answer.content == data
    assert answer.headers["Content-Type"] == "application/pdf"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    answer = requests.get(image.public_url, timeout=10)
    assert answer.headers["Content-Type"] == "image/png"
    with image.file.open("rb") as f:
        assert answer.content == f.read()

    unknown = image.public_url.replace(image.token, "x" * len(image.token))
    assert requests.get(unknown, timeout=10).status_code == 404


def test_an_inbound_files_token_is_not_served_on_the_public_path(synced, live_server):
    inbound = Message.objects.create(
        direction=Direction.INBOUND, our_number=OUR_DID, their_number=CUSTOMER, status="received"
    )
    media = MessageMedia(
        message=inbound, position=0, name="x.png", content_type="image/png", state="stored"
    )
    media.file.save("x.png", SimpleUploadedFile("x.png", picture("red")), save=False)
    media.save()

    assert requests.get(media.public_url, timeout=10).status_code == 404


def test_reconciling_an_mms_without_text_matches_the_carriers_null_message(db, monkeypatch):
    message = Message.objects.create(
        direction=Direction.OUTBOUND,
        our_number=OUR_DID,
        their_number=CUSTOMER,
        body="",
        kind="mms",
        media_count=1,
        status=Status.UNKNOWN,
    )
    copy = {"message_sid": "mms-1", "message": None, "user_data": None, "type": "mms"}
    other = {"message_sid": "sms-1", "message": "Hello", "user_data": None}

    class Carrier:
        def list_sms(self, *, filter):
            if "user_data" in filter:
                raise CarrierXError("filter not supported", status=422)
            return [other, copy]

    monkeypatch.setattr(outbound, "get_client", Carrier)
    assert find_at_carrier(message) == [copy]


@pytest.mark.parametrize(
    "name, content_type, expected",
    [
        ("photo.png", "image/png", "photo.png"),
        ("IMG_1.HEIC", "image/jpeg", "IMG_1.jpg"),
        ("scan.jpeg", "image/jpeg", "scan.jpeg"),
        ("../../etc/passwd", "application/pdf", "passwd.pdf"),
        ("C:\\Users\\me\\card.vcf", "text/vcard", "card.vcf"),
        ("..", "image/png", "file-1.png"),
        ("\u202eevil\x00.png", "image/png", "evil.png"),
        ("v1.2", "application/pdf", "v1.2.pdf"),
        ("x" * 300 + ".pdf", "application/pdf", "x" * 96 + ".pdf"),
    ],
)
def test_file_names_are_made_safe_and_end_in_the_type_their_bytes_are(name, content_type, expected):
    assert safe_name(name, position=0, content_type=content_type) == expected
