"""A photo sent to a customer carries no EXIF: not where it was taken, not the camera."""

from __future__ import annotations

import io

from PIL import Image

from messaging.media_files import without_metadata

GPS_IFD = 0x8825
ORIENTATION = 0x0112


def jpeg(*, size=(64, 32), orientation: int | None = None, gps: bool = True) -> bytes:
    image = Image.new("RGB", size)
    for x in range(size[0]):
        for y in range(size[1]):
            image.putpixel((x, y), (x * 4 % 256, y * 8 % 256, 90))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # camera make
    if gps:
        exif.get_ifd(GPS_IFD).update({1: "N", 2: (40.0, 44.0, 54.0), 3: "W", 4: (73.0, 59.0, 9.0)})
    if orientation:
        exif[ORIENTATION] = orientation
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes(), quality=90)
    return out.getvalue()


def test_a_photos_gps_position_and_camera_are_removed_without_touching_its_pixels():
    original = jpeg()
    assert b"Exif" in original and Image.open(io.BytesIO(original)).getexif()[0x010F]
    cleaned = without_metadata(original, "image/jpeg")
    assert b"Exif" not in cleaned
    assert not Image.open(io.BytesIO(cleaned)).getexif()
    # Lossless: the same compressed picture, so the same pixels.
    assert Image.open(io.BytesIO(cleaned)).tobytes() == Image.open(io.BytesIO(original)).tobytes()
    assert len(cleaned) < len(original)


def test_a_photo_stored_sideways_is_turned_upright_and_loses_its_exif():
    cleaned = without_metadata(jpeg(size=(64, 32), orientation=6), "image/jpeg")
    image = Image.open(io.BytesIO(cleaned))
    assert image.size == (32, 64)  # rotated as the EXIF said, so no handset shows it sideways
    assert not image.getexif()


def test_other_types_and_broken_jpegs_are_left_as_they_are():
    png = io.BytesIO()
    Image.new("RGB", (4, 4)).save(png, "PNG")
    assert without_metadata(png.getvalue(), "image/png") == png.getvalue()
    broken = b"\xff\xd8\xff\xe1\x00"
    assert without_metadata(broken, "image/jpeg").startswith(b"\xff\xd8")


def test_a_photo_sent_from_the_messaging_page_is_stored_without_its_position(
    sender_client, settings
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from messaging.models import MessageMedia
    from phone_numbers.models import Did

    Did.objects.create(did_sid="d1", phonenumber="15162065575", active_capabilities=31)
    photo = SimpleUploadedFile("beach.jpg", jpeg(), content_type="image/jpeg")
    response = sender_client.post(
        "/messaging/",
        {
            "from_did": "15162065575",
            "to_did": "+1 212 555 0142",
            "message": "",
            "attachments": photo,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    stored = MessageMedia.objects.get().file.read()
    assert b"Exif" not in stored and not Image.open(io.BytesIO(stored)).getexif()
