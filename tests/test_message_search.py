"""The Messages list: filters, keyset pages, and the streamed CSV export of the filtered set."""

from __future__ import annotations

import csv
import html
import io
import re
import tracemalloc
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from messaging.models import Direction, Message, Status
from phone_numbers.models import Did
from tests.conftest import make_user

pytestmark = pytest.mark.django_db
SALES = "15162065318"
SUPPORT = "15162065400"
ALICE = "15162065319"
BOB = "447700900123"
LIST = reverse("messaging:messages")
EXPORT = reverse("messaging:messages_export")


@pytest.fixture
def staff(client):
    Did.objects.create(did_sid="did-sales", phonenumber=SALES, name="Sales")
    Did.objects.create(did_sid="did-support", phonenumber=SUPPORT, name="Support")
    client.force_login(make_user("ines", "Inbox staff"))
    return client


def message(body="hello", *, our=SALES, their=ALICE, inbound=True, status=None, at=None, **extra):
    row = Message.objects.create(
        body=body,
        our_number=our,
        their_number=their,
        direction=Direction.INBOUND if inbound else Direction.OUTBOUND,
        status=status or (Status.RECEIVED if inbound else Status.DELIVERED),
        **extra,
    )
    if at is not None:
        Message.objects.filter(pk=row.pk).update(created_at=at)
        row.refresh_from_db()
    return row


def shown(response) -> list[str]:
    """The bodies of the messages listed on the page, top to bottom."""
    assert response.status_code == 200
    page = response.content.decode()
    rows = re.findall(r'<td class="body"><a href="[^"]+">(.*?)</a></td>', page)
    return [html.unescape(body) for body in rows]


def shown_ids(response) -> list[int]:
    return [int(pk) for pk in re.findall(r'<tr id="message-(\d+)"', response.content.decode())]


def older_link(response) -> str | None:
    found = re.search(r'<a class="button" href="([^"]+)">Older messages', response.content.decode())
    return html.unescape(found.group(1)) if found else None


def export_link(response) -> str:
    found = re.search(
        r'<a class="button" href="([^"]+)" download>Export CSV', response.content.decode()
    )
    return html.unescape(found.group(1))


def exported(response) -> list[dict]:
    assert response.status_code == 200
    assert response.streaming
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_the_list_shows_every_message_newest_first_each_linking_to_its_page(staff):
    first = message("first")
    second = message("second", inbound=False)
    response = staff.get(LIST)
    assert shown(response) == ["second", "first"]
    page = response.content.decode()
    # ?from=messages: the message's page goes back here and highlights Messages.
    assert f'href="{reverse("messaging:message", args=[second.pk])}?from=messages"' in page
    assert f'href="{reverse("messaging:message", args=[first.pk])}?from=messages"' in page
    assert "+1 516-206-5318" in page and "+1 516-206-5319" in page


def test_the_nav_has_a_messages_link_after_the_inbox(staff):
    page = staff.get(LIST).content.decode()
    nav = page[page.index('<nav class="mainnav"') : page.index("</nav>")]
    assert nav.index(">Inbox") < nav.index(">Messages</a>")
    assert f'<a href="{LIST}" aria-current="page">Messages</a>' in nav


def test_our_did_filter_shows_only_messages_on_that_did(staff):
    message("to sales", our=SALES)
    message("to support", our=SUPPORT)
    assert shown(staff.get(LIST, {"our_did": SUPPORT})) == ["to support"]
    page = staff.get(LIST).content.decode()
    assert "+1 516-206-5400 — Support</option>" in page


def test_a_customer_number_typed_any_way_finds_that_customer(staff):
    message("from alice", their=ALICE)
    message("from bob", their=BOB)
    for typed in ["+1 (516) 206-5319", "516.206.5319", "15162065319"]:
        assert shown(staff.get(LIST, {"customer": typed})) == ["from alice"], typed


def test_part_of_a_customer_number_finds_every_number_containing_it(staff):
    message("from alice", their=ALICE)
    message("from a neighbour", their="15162065999")
    message("from bob", their=BOB)
    assert shown(staff.get(LIST, {"customer": "206-5"})) == ["from a neighbour", "from alice"]
    assert shown(staff.get(LIST, {"customer": "900 123"})) == ["from bob"]


def test_a_customer_number_without_digits_is_a_form_error(staff):
    message("from alice")
    response = staff.get(LIST, {"customer": "alice"})
    assert shown(response) == []
    assert "Type the digits of the customer" in response.content.decode()


def test_direction_filter_shows_one_direction(staff):
    message("they wrote", inbound=True)
    message("we wrote", inbound=False)
    assert shown(staff.get(LIST, {"direction": "outbound"})) == ["we wrote"]
    assert shown(staff.get(LIST, {"direction": "inbound"})) == ["they wrote"]


def test_status_filter_shows_one_status(staff):
    message("made it", inbound=False, status=Status.DELIVERED)
    message("bounced", inbound=False, status=Status.FAILED)
    assert shown(staff.get(LIST, {"status": "failed"})) == ["bounced"]


def test_text_filter_matches_any_case_anywhere_in_the_body(staff):
    message("Where is my ORDER?")
    message("thanks")
    assert shown(staff.get(LIST, {"text": "order"})) == ["Where is my ORDER?"]


def test_filters_combine(staff):
    message("sales failed", our=SALES, inbound=False, status=Status.FAILED)
    message("support failed", our=SUPPORT, inbound=False, status=Status.FAILED)
    message("sales delivered", our=SALES, inbound=False, status=Status.DELIVERED)
    response = staff.get(LIST, {"our_did": SALES, "status": "failed", "direction": "outbound"})
    assert shown(response) == ["sales failed"]


def test_date_range_includes_both_whole_days_in_the_site_time_zone(staff, settings):
    settings.TIME_ZONE = "America/New_York"  # UTC-5 in early March
    message("feb 28 late evening", at=datetime(2026, 3, 1, 4, 59, 59, tzinfo=UTC))
    message("mar 1 midnight", at=datetime(2026, 3, 1, 5, 0, tzinfo=UTC))
    message("mar 2 last second", at=datetime(2026, 3, 3, 4, 59, 59, tzinfo=UTC))
    message("mar 3 midnight", at=datetime(2026, 3, 3, 5, 0, tzinfo=UTC))
    response = staff.get(LIST, {"date_from": "2026-03-01", "date_to": "2026-03-02"})
    assert shown(response) == ["mar 2 last second", "mar 1 midnight"]
    assert shown(staff.get(LIST, {"date_from": "2026-03-03"})) == ["mar 3 midnight"]
    assert shown(staff.get(LIST, {"date_to": "2026-02-28"})) == ["feb 28 late evening"]
    assert 'type="date" name="date_from" value="2026-03-01"' in response.content.decode()


@pytest.mark.parametrize(
    "filters, error",
    [
        ({"date_from": "2026-02-30"}, "Enter a valid date."),
        ({"date_to": "yesterday"}, "Enter a valid date."),
        ({"date_from": "0001-01-01"}, "greater than or equal to"),
        ({"date_to": "9999-12-31"}, "less than or equal to"),
        ({"date_from": "2026-03-02", "date_to": "2026-03-01"}, "before the start date"),
        ({"our_did": "15550000000"}, "Select a valid choice."),
        ({"status": "lost"}, "Select a valid choice."),
    ],
)
def test_invalid_filters_show_an_error_and_no_messages(staff, filters, error):
    message("hello")
    response = staff.get(LIST, filters)
    assert shown(response) == []
    page = response.content.decode()
    assert error in page
    assert "Correct the filters above" in page
    export = staff.get(EXPORT, filters)
    assert export.status_code == 400
    assert error in export.content.decode()


def test_pages_do_not_overlap_and_keep_the_filters(staff):
    matching = [message(f"order {n}", our=SALES).pk for n in range(120)]
    for n in range(30):
        message(f"order elsewhere {n}", our=SUPPORT)
        message(f"other {n}", our=SALES)
    seen: list[int] = []
    url = f"{LIST}?our_did={SALES}&text=order"
    pages = 0
    while url:
        with CaptureQueriesContext(connection) as queries:
            response = staff.get(url)
        page_ids = shown_ids(response)
        assert all(re.fullmatch(r"order \d+", body) for body in shown(response))
        assert not set(page_ids) & set(seen)
        assert page_ids == sorted(page_ids, reverse=True)
        seen += page_ids
        sql = [q["sql"].upper() for q in queries.captured_queries]
        on_messages = [q for q in sql if '"MESSAGING_MESSAGE"' in q]
        assert len(on_messages) == 1
        assert "OFFSET" not in on_messages[0] and "COUNT(" not in on_messages[0]
        assert f"our_did={SALES}" in export_link(response)
        assert "before=" not in export_link(response)
        url = older_link(response)
        if url:
            assert f"our_did={SALES}" in url and "text=order" in url
            url = LIST + url
        pages += 1
    assert pages == 3
    assert sorted(seen) == sorted(matching)


def test_the_export_has_exactly_the_filtered_rows_with_a_header_and_iso_dates(staff):
    sender = make_user("sam", "Senders")
    when = datetime(2026, 3, 1, 12, 30, 5, 123456, tzinfo=UTC)
    sent = message(
        'Your code is 1234, "quoted"\nand two lines',
        inbound=False,
        at=when,
        message_sid="sid-1",
        segments=2,
        price=Decimal("0.0075"),
        sent_by=sender,
    )
    message("from support", inbound=False, our=SUPPORT)
    message("inbound", inbound=True)
    response = staff.get(EXPORT, {"our_did": SALES, "direction": "outbound"})
    assert response["Content-Type"].startswith("text/csv")
    today = timezone.localdate().isoformat()
    assert response["Content-Disposition"] == f'attachment; filename="messages-{today}.csv"'
    rows = exported(response)
    assert rows == [
        {
            "id": str(sent.pk),
            "created_at": "2026-03-01T12:30:05+00:00",
            "direction": "outbound",
            "our_did": SALES,
            "customer": ALICE,
            "customer_name": "",
            "status": "delivered",
            "segments": "2",
            "price": "0.00750",
            "message_sid": "sid-1",
            "sent_by": "sam",
            "files": "0",
            "body": 'Your code is 1234, "quoted"\nand two lines',
        }
    ]
    assert datetime.fromisoformat(rows[0]["created_at"]) == when.replace(microsecond=0)


def test_the_export_writes_dates_in_the_site_time_zone(staff, settings):
    settings.TIME_ZONE = "America/New_York"
    message("late", at=datetime(2026, 3, 1, 4, 0, tzinfo=UTC))
    (row,) = exported(staff.get(EXPORT))
    assert row["created_at"] == "2026-02-28T23:00:00-05:00"


def test_the_export_without_filters_has_every_message_newest_first(staff):
    ids = [message(f"m{n}").pk for n in range(5)]
    rows = exported(staff.get(EXPORT))
    assert [int(r["id"]) for r in rows] == sorted(ids, reverse=True)


def test_the_export_disarms_cells_a_spreadsheet_would_run_as_formulas(staff):
    dangerous = ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd"]
    for body in dangerous:
        message(body, inbound=False)
    message("a=b is fine", inbound=False, sent_by=make_user("@sneaky"), message_sid="-sid")
    rows = exported(staff.get(EXPORT))
    bodies = {r["body"] for r in rows}
    assert bodies == {"'" + body for body in dangerous} | {"a=b is fine"}
    harmless = next(r for r in rows if r["body"] == "a=b is fine")
    assert harmless["sent_by"] == "'@sneaky"
    assert harmless["message_sid"] == "'-sid"
    assert harmless["our_did"] == SALES and harmless["id"].isdigit()


def test_the_export_link_exports_what_the_list_shows(staff):
    message("made it", inbound=False, status=Status.DELIVERED)
    message("bounced", inbound=False, status=Status.FAILED)
    link = export_link(staff.get(LIST, {"status": "failed", "customer": "206 5319"}))
    assert link.startswith(EXPORT + "?")
    assert [r["body"] for r in exported(staff.get(link))] == ["bounced"]


def test_a_large_export_streams_from_one_lazy_query_in_bounded_memory(staff):
    total, filler = 20_000, "x" * 1000
    Message.objects.bulk_create(
        Message(
            body=f"row {n} {filler}",
            our_number=SALES,
            their_number=ALICE,
            direction=Direction.INBOUND,
            status=Status.RECEIVED,
        )
        for n in range(total)
    )

    def message_queries(captured) -> list[str]:
        return [q["sql"] for q in captured if '"messaging_message"' in q["sql"]]

    def csv_rows(chunk: bytes) -> list[list[str]]:
        return list(csv.reader(io.StringIO(chunk.decode(), newline="")))

    tracemalloc.start()
    try:
        with CaptureQueriesContext(connection) as during_view:
            response = staff.get(EXPORT)
        assert response.streaming
        # The view hands back the response before reading any message.
        assert message_queries(during_view.captured_queries) == []

        chunks = iter(response.streaming_content)
        with CaptureQueriesContext(connection) as streaming:
            header = next(chunks)
            assert header.startswith(b"id,created_at,direction,")
            assert message_queries(streaming.captured_queries) == []
            first = last = next(chunks)
            # The first rows are on their way while most of the table is still unread.
            assert 0 < first.count(b"\r\n") < total
            lines = header.count(b"\r\n") + first.count(b"\r\n")
            for chunk in chunks:
                lines += chunk.count(b"\r\n")
                last = chunk
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        response.close()

    (query,) = message_queries(streaming.captured_queries)
    assert "LIMIT" not in query.upper() and "OFFSET" not in query.upper()
    assert lines == total + 1
    assert csv_rows(first)[0][-1] == f"row {total - 1} {filler}"
    assert csv_rows(last)[-1][-1] == f"row 0 {filler}"
    # The bodies alone are 20 MB; reading them all at once peaks near 30 MB, a chunk at a time
    # near 8-10 MB (the backend's fetch size decides) whatever the number of rows. Less than the
    # bodies alone holds on either backend and still tells streaming from reading the table.
    assert peak < total * len(filler)


def test_a_sender_may_neither_search_nor_export(client):
    client.force_login(make_user("sam", "Senders"))
    assert client.get(LIST).status_code == 403
    assert client.get(EXPORT).status_code == 403


def test_signed_out_visitors_are_sent_to_sign_in(client):
    for url in (LIST, EXPORT):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
