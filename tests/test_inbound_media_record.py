"""What an inbound MMS adds to the webhook (issue 14: an MMS callback costs about what an SMS
costs): the file rows in one INSERT written without a model object per row, the question whether
a download waits asked with them, and nothing else. The rows must hold exactly what the ORM would
have stored, so the download task and the pages cannot tell the difference."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tasks_db.models import DBTaskResult

from messaging.models import MediaState, Message, MessageMedia
from portal.inserts import insert_rows

pytestmark = pytest.mark.django_db

CUSTOMER, OUR_DID = "15162065319", "15162065575"
URLS = [f"https://storage.carrierx.com/f/photo-{n}.jpg" for n in range(3)]


def post_mms(client, url, sid: str, urls: list[str] = URLS) -> None:
    body = {
        "message_sid": sid,
        "direction": "inbound",
        "from": CUSTOMER,
        "to": OUR_DID,
        "message": "Photos of the damage",
        "status": "received",
        "type": "mms",
        "media_urls": urls,
    }
    response = client.post(url, body, content_type="application/json")
    assert response.status_code == 200, response.content


def mms(client, url, sid: str) -> Message:
    post_mms(client, url, sid)
    return Message.objects.get(message_sid=sid)


def downloads() -> list[DBTaskResult]:
    return list(DBTaskResult.objects.filter(task_path="messaging.tasks.download_media_task"))


def test_each_file_row_holds_what_the_orm_would_have_stored(client, webhook_url):
    message = mms(client, webhook_url, "mms-1")
    written = list(message.media.order_by("position").values())
    ours = MessageMedia.objects.create(
        message=message, position=9, source_url=URLS[0], state=MediaState.PENDING
    )
    by_orm = MessageMedia.objects.filter(pk=ours.pk).values().get()
    varying = {"id", "position", "token", "source_url", "created_at"}
    for n, row in enumerate(written):
        assert {k: v for k, v in row.items() if k not in varying} == {
            k: v for k, v in by_orm.items() if k not in varying
        }
        assert (row["position"], row["source_url"]) == (n, URLS[n])
        assert abs(row["created_at"] - message.created_at) < timedelta(seconds=5)


def test_file_tokens_are_distinct_url_safe_and_192_bits(client, webhook_url):
    mms(client, webhook_url, "mms-1")
    mms(client, webhook_url, "mms-2")
    tokens = list(MessageMedia.objects.values_list("token", flat=True))
    assert len(tokens) == 6 and len(set(tokens)) == 6
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{32}", t) for t in tokens)  # 32 × 6 bits


def test_the_first_mms_queues_a_download_and_the_next_finds_it_waiting(client, webhook_url):
    mms(client, webhook_url, "mms-1")
    assert len(downloads()) == 1
    mms(client, webhook_url, "mms-2")
    assert len(downloads()) == 1
    DBTaskResult.objects.update(status="RUNNING")  # taken by a worker: no longer waiting
    mms(client, webhook_url, "mms-3")
    assert [t.status for t in downloads()] == ["RUNNING", "READY"]


def test_an_mms_costs_postgresql_no_statement_more_than_a_text_once_a_download_waits(
    client, webhook_url
):
    post_mms(client, webhook_url, "warm-up")  # reads which DIDs answer, and queues the download
    with CaptureQueriesContext(connection) as captured:
        post_mms(client, webhook_url, "mms-2")
    sql = [q["sql"].split()[0].upper() for q in captured.captured_queries]
    sql = [s for s in sql if s not in ("SAVEPOINT", "RELEASE")]
    if connection.vendor == "postgresql":
        # The message with its files and the question whether a download waits; the
        # conversation (an upsert); the event. A text is the same three.
        assert sql == ["WITH", "INSERT", "INSERT"]
        (together,) = [q["sql"] for q in captured.captured_queries if q["sql"].startswith("WITH")]
        assert '"messaging_messagemedia" (' in together and '"messaging_message" (' in together
    else:
        # SQLite runs in this process: the files and the question are statements of their own.
        assert sql == ["INSERT", "INSERT", "SELECT", "INSERT", "INSERT"]
    assert MessageMedia.objects.filter(message__message_sid="mms-2").count() == 3
    assert len(downloads()) == 1


def test_a_repeated_mms_callback_adds_no_file_and_no_download(client, webhook_url):
    first = mms(client, webhook_url, "mms-1")
    DBTaskResult.objects.all().delete()
    again = mms(client, webhook_url, "mms-1")
    assert again.pk == first.pk
    assert list(first.media.values_list("position", flat=True)) == [0, 1, 2]
    assert downloads() == []
    assert first.events.count() == 2


def test_insert_rows_refuses_to_leave_a_per_call_default_to_itself():
    message = Message.objects.create(
        direction="inbound", our_number=OUR_DID, their_number=CUSTOMER, body="", status="received"
    )
    with pytest.raises(ValueError, match="created_at changes per call"):
        insert_rows(
            MessageMedia,
            ("position", "token", "source_url"),
            [(0, "t" * 32, URLS[0])],
            fixed={"message_id": message.pk, "state": MediaState.PENDING},
        )
    with pytest.raises(ValueError, match="token changes per call"):
        insert_rows(MessageMedia, ("position", "source_url"), [(0, URLS[0])], fixed={})
    assert not MessageMedia.objects.exists()
