"""What the webhook keeps and changes for each body, where mutation testing
(docs/mutation-testing.md, run 3) found the suite silent: the event's labels and outcome, a late
report that leaves what it does not mention alone, a carrier's retry that changes nothing twice,
an apply that fails, the STOP written in the consent record, and ids at the edge of the column."""

from __future__ import annotations

import json

import pytest
import responses
from django.db import connection
from django.test import Client
from django.utils import timezone

from messaging.models import (
    CarrierEvent,
    ConsentEvent,
    Conversation,
    Direction,
    Message,
    OptOut,
    Status,
)
from messaging.services.detail_records import detail_records_sync
from messaging.services.opt_out import STAFF_KEYWORD, opt_out_refusal
from tests.conftest import load_fixture
from tests.webhook_checks import last_event

pytestmark = pytest.mark.django_db

OURS, THEIRS = "15162065575", "15550008888"


@pytest.fixture
def post(webhook_url):
    client = Client(raise_request_exception=False)

    def send(payload: dict):
        body = json.dumps(payload).encode()
        return client.post(webhook_url, data=body, content_type="application/json")

    return send


def status(sid: str = "s-1", **fields) -> dict:
    """A status callback about our outbound message `sid`."""
    return {"message_sid": sid, "direction": "outbound", "from": OURS, "to": THEIRS, **fields}


def held(sid: str = "s-1", **fields) -> Message:
    return Message.objects.create(
        message_sid=sid,
        direction=Direction.OUTBOUND,
        our_number=OURS,
        their_number=THEIRS,
        body="hello",
        **{"status": Status.SENT, **fields},
    )


def test_a_callback_is_kept_under_its_message_sid_and_status(post):
    assert post(status(status="delivered")).status_code == 200

    event = last_event()
    assert (event.message_sid, event.status, event.message.message_sid) == (
        "s-1",
        "delivered",
        "s-1",
    )


def test_a_callback_without_a_status_changes_nothing_and_says_so(post):
    message = held()

    assert post(status(price="0.0075")).status_code == 200

    message.refresh_from_db()
    assert (message.status, str(message.price)) == (Status.SENT, "0.00750")
    assert last_event().outcome == "no status"


def test_a_sending_report_about_a_message_still_sending_is_a_duplicate(post):
    held(status=Status.SENDING)

    assert post(status(status="sending")).status_code == 200

    assert last_event().outcome == "duplicate (sending)"


def test_a_later_report_without_price_or_segments_keeps_those_already_stored(post):
    assert post(status(status="sent", price="0.0075", message_segments=2)).status_code == 200
    assert post(status(status="delivered")).status_code == 200

    message = Message.objects.get()
    assert (message.status, str(message.price), message.segments) == ("delivered", "0.00750", 2)


def test_a_status_change_marks_the_conversation_changed_for_open_inboxes(post):
    assert post(status(status="sent")).status_code == 200
    Conversation.objects.update(updated_at=timezone.now() - timezone.timedelta(hours=1))
    before = Conversation.objects.get().updated_at

    assert post(status(status="delivered")).status_code == 200

    assert Conversation.objects.get().updated_at > before


def test_an_outcome_longer_than_its_column_is_cut_to_200_characters(post):
    odd = {"mcc": "x" * 30, "mnc": "y" * 30, "message": 7, "user_data": 8, "type": "fax"}
    odd |= {"media_urls": "z" * 30, "group_recipients": "w" * 30}

    assert post(status(status="sent", **odd)).status_code == 200

    outcome = last_event().outcome
    assert outcome.startswith("new outbound message (sent); mcc dropped: ") and len(outcome) == 200


def test_a_body_that_is_not_an_sms_object_is_kept_whole_with_its_status_and_what_came_of_it(
    webhook_url,
):
    body = b'{"did_sid": "did-unknown", "enabled": true, "status": "disabled"}'
    response = Client().post(webhook_url, data=body, content_type="application/json")

    assert response.status_code == 200
    event = last_event()
    assert (event.body, event.message_sid, event.status) == (body.decode(), "", "disabled")
    assert event.outcome == "messaging update for a number we do not have"
    assert not event.rejected


def test_the_carrier_sending_an_inbound_text_twice_files_it_and_its_stop_once(post):
    stop = {**load_fixture("inbound_legacy"), "message": "STOP"}

    assert post(stop).status_code == 200
    assert post(stop).status_code == 200

    message = Message.objects.get()
    assert last_event().outcome == "duplicate (received)"
    consent = ConsentEvent.objects.get()
    assert (consent.customer_number, consent.our_number) == (stop["from_did"], stop["to_did"])
    assert (consent.kind, consent.detail, consent.message_id) == ("opt_out", "STOP", message.pk)
    assert (consent.method, consent.consented_at) == ("keyword", message.created_at)


def test_a_start_is_written_in_the_consent_record_as_an_opt_in(post):
    assert post({**load_fixture("inbound_legacy"), "message": "start"}).status_code == 200

    consent = ConsentEvent.objects.get()
    assert (consent.kind, consent.method, consent.detail) == ("opt_in", "keyword", "START")


def test_a_refusal_for_an_opt_out_staff_entered_says_staff_did_it(post):
    OptOut.objects.create(
        customer_number=THEIRS,
        our_number=OURS,
        opted_out=True,
        keyword=STAFF_KEYWORD,
        changed_at=timezone.now(),
    )

    refusal = opt_out_refusal(customer=THEIRS, our_number=OURS)

    assert " (opted out by staff on " in refusal and "texted" not in refusal


def test_a_failure_while_applying_keeps_the_body_and_asks_the_carrier_to_retry(post):
    table = Conversation._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "CREATE FUNCTION mut_refuse() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'conversation table refuses writes'; END $$"
            )
            cursor.execute(
                f"CREATE TRIGGER mut_refuse BEFORE INSERT ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION mut_refuse()"
            )
        else:
            cursor.execute(
                f"CREATE TRIGGER mut_refuse BEFORE INSERT ON {table} "
                "BEGIN SELECT RAISE(ABORT, 'conversation table refuses writes'); END"
            )

    response = post(load_fixture("inbound_legacy"))

    assert response.status_code == 500
    event = CarrierEvent.objects.get()
    assert (event.outcome, event.message, event.rejected) == (
        "error while applying; kept",
        None,
        False,
    )
    assert event.message_sid == "e405fa47-48f5-4dc5-bbba-77231587188e"
    assert not Message.objects.exists()


def test_a_callback_naming_a_message_with_an_eighteen_digit_id_adopts_it(post):
    pk = 10**17
    Message.objects.create(
        pk=pk, direction=Direction.OUTBOUND, our_number=OURS, their_number=THEIRS, body="hi"
    )

    response = post(status(sid="late-1", status="sent", user_data=f"portal-message-{pk}"))

    assert response.status_code == 200
    assert Message.objects.get().message_sid == "late-1"


def test_user_data_naming_an_id_past_the_column_makes_a_row_of_its_own(post):
    payload = status(sid="x-1", status="sent", user_data="portal-message-" + "9" * 19)

    assert post(payload).status_code == 200

    assert Message.objects.get().message_sid == "x-1"


def test_an_inbound_mms_recovered_from_the_detail_records_keeps_its_files_in_order(settings):
    settings.CARRIERX_API_URL = api = "https://carrierx.test/core/v2"
    settings.DETAIL_RECORDS_RECOVERY_GRACE_SECONDS = 0
    files = [f"https://media.carrierx.test/f/{n}.jpg" for n in (2, 1)]
    record = {
        "dr_sid": "dr-1",
        "direction": "inbound",
        "number_src": THEIRS,
        "number_dst": OURS,
        "date_start": "2026-11-29T10:00:00.000Z",
        "date_stop": "2026-11-29T10:00:01.000Z",
        "message_sid": "lost-mms",
        "message": None,
        "type": "mms",
        "media_urls": files,
        "status": "received",
    }
    with responses.RequestsMock() as carrier:
        carrier.get(f"{api}/sms/message_drs", json={"items": [record], "pagination": {}})
        detail_records_sync()

    message = Message.objects.get(message_sid="lost-mms")
    assert (message.recovered, message.kind) == (True, "mms")
    assert list(message.media.order_by("position").values_list("source_url", flat=True)) == files


def test_an_early_callback_adopts_only_the_outbound_row_its_user_data_names_while_it_has_no_sid(
    post,
):
    first, named, last = (held(sid=None, status=Status.SENDING) for _ in range(3))
    has_sid = held(sid="first-copy", status=Status.SENDING)
    theirs = Message.objects.create(
        direction=Direction.INBOUND, our_number=OURS, their_number=THEIRS, body="hi"
    )

    for sid, target in (("s-named", named), ("s-again", has_sid), ("s-inbound", theirs)):
        payload = status(sid=sid, status="sent", user_data=f"portal-message-{target.pk}")
        assert post(payload).status_code == 200

    sids = dict(Message.objects.values_list("pk", "message_sid"))
    assert (sids[first.pk], sids[named.pk], sids[last.pk]) == (None, "s-named", None)
    assert (sids[has_sid.pk], sids[theirs.pk]) == ("first-copy", None)
    # The two bodies naming a row they may not change made rows of their own.
    assert Message.objects.filter(message_sid__in=["s-again", "s-inbound"]).count() == 2


def test_an_inbound_mms_keeps_its_files_in_the_order_the_carrier_lists_them(post):
    files = [f"https://media.carrierx.test/f/{n}.jpg" for n in (3, 1, 2)]

    assert post({**load_fixture("inbound_legacy"), "media_urls": files}).status_code == 200

    message = Message.objects.get()
    assert (message.kind, message.media_count) == ("mms", 3)
    assert list(message.media.order_by("position").values_list("source_url", flat=True)) == files


def test_the_carrier_sending_an_inbound_mms_twice_files_it_once(post):
    mms = {**load_fixture("inbound_legacy"), "media_urls": ["https://media.carrierx.test/f/1.jpg"]}

    assert post(mms).status_code == 200
    assert post(mms).status_code == 200

    assert last_event().outcome == "duplicate (received)"
    assert Message.objects.get().media.count() == 1
    assert Conversation.objects.get().unread_count == 1
