"""The dispatcher's batched writes: a batch's release and a pass's answers cost a fixed few
statements plus one per message (its conversation upsert at release), store what the per-message
path stored, and still fold in a row a status callback filed before the send's own answer."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from campaigns import dispatch
from campaigns.models import Campaign, Recipient
from campaigns.recipients import read_pasted, recipients_prepare
from messaging.models import CarrierEvent, Direction, Message, Status

pytestmark = pytest.mark.django_db

OURS = "15162065575"


def claimed_recipients(sender, count: int) -> tuple[Campaign, list[Recipient]]:
    campaign = Campaign.objects.create(
        name="Batch", body="Hi {first_name}", dids=[OURS], created_by=sender, rate_per_did=10
    )
    rows = "\n".join(f"+1212555{i:04d}" for i in range(count))
    recipients_prepare(campaign, read_pasted(rows))
    Campaign.objects.filter(pk=campaign.pk).update(state=Campaign.State.RUNNING)
    Recipient.objects.filter(campaign=campaign).update(
        state=Recipient.State.CLAIMED, claim="token-1", claimed_at=timezone.now()
    )
    return campaign, list(Recipient.objects.filter(campaign=campaign).order_by("pk"))


def lane() -> dispatch.Lane:
    return dispatch.Lane(our_number=OURS, rate=Decimal(10), refusal=None, horizon=timezone.now())


def test_a_release_of_thirty_writes_thirty_linked_messages_in_few_statements_more_than_ten(
    sender,
):
    campaign, recipients = claimed_recipients(sender, 30)
    with CaptureQueriesContext(connection) as ten:
        dispatch._release(campaign, [(r, lane()) for r in recipients[:10]])
    with CaptureQueriesContext(connection) as twenty:
        dispatch._release(campaign, [(r, lane()) for r in recipients[10:]])

    # Ten more recipients cost ten conversation upserts, nothing more per recipient.
    assert len(twenty) - len(ten) == 10
    stored = Recipient.objects.filter(campaign=campaign).select_related("message")
    assert {r.state for r in stored} == {Recipient.State.MESSAGED}
    written = {(r.message.their_number, r.message.status, r.message.send_attempts) for r in stored}
    assert written == {(r.number, Status.SENDING, 1) for r in recipients}


def test_a_recipient_taken_back_before_the_release_gets_no_message(sender):
    campaign, recipients = claimed_recipients(sender, 3)
    Recipient.objects.filter(pk=recipients[1].pk).update(claim="another-dispatcher")

    released = dispatch._release(campaign, [(r, lane()) for r in recipients])

    assert sorted(m.their_number for m in released) == sorted(
        [recipients[0].number, recipients[2].number]
    )
    taken = Recipient.objects.get(pk=recipients[1].pk)
    assert taken.state == Recipient.State.CLAIMED and taken.message is None
    assert Message.objects.filter(their_number=recipients[1].number).count() == 0


def test_answers_are_adopted_together_and_an_early_callback_row_is_folded_in(sender):
    campaign, recipients = claimed_recipients(sender, 12)
    messages = dispatch._release(campaign, [(r, lane()) for r in recipients])
    early = Message.objects.create(
        direction=Direction.OUTBOUND,
        our_number=OURS,
        their_number=messages[0].their_number,
        body="Hi",
        status=Status.DELIVERED,
        message_sid="sid-0",
    )
    CarrierEvent.objects.create(message=early, message_sid="sid-0", status="delivered")
    answers = [
        (m, {"message_sid": f"sid-{i}", "status": "queued", "message_segments": 1}, None)
        for i, m in enumerate(messages)
    ]

    with transaction.atomic():
        dispatch._record(answers)

    stored = {m.message_sid: m for m in Message.objects.filter(pk__in=[m.pk for m in messages])}
    assert set(stored) == {f"sid-{i}" for i in range(12)}
    assert stored["sid-0"].status == Status.DELIVERED  # the callback's furthest status wins
    assert CarrierEvent.objects.get(message_sid="sid-0").message_id == messages[0].pk
    assert not Message.objects.filter(pk=early.pk).exists()
    assert {stored[f"sid-{i}"].status for i in range(1, 12)} == {Status.QUEUED}
    assert {stored[f"sid-{i}"].segments for i in range(12)} == {1}


def test_twenty_four_plain_answers_cost_the_statements_of_twelve(sender):
    campaign, recipients = claimed_recipients(sender, 36)
    messages = dispatch._release(campaign, [(r, lane()) for r in recipients])
    dispatch._record([(messages[0], {"message_sid": "sid-first", "status": "queued"}, None)])
    counts = []
    for part in (messages[1:13], messages[13:]):
        answers = [(m, {"message_sid": f"sid-{m.pk}", "status": "queued"}, None) for m in part]
        with transaction.atomic(), CaptureQueriesContext(connection) as queries:
            dispatch._record(answers)
        counts.append(len(queries))

    assert counts[0] == counts[1]
    adopted = Message.objects.filter(status=Status.QUEUED, message_sid__startswith="sid-")
    assert adopted.count() == 36
