"""Which DID of a campaign's pool texts each customer: the one they already text with, else the
least used one, so the pool's DIDs carry equal shares and the campaign ends when they all do."""

from __future__ import annotations

from collections import Counter

import pytest
from django.utils import timezone

from campaigns.models import Campaign, Recipient
from campaigns.recipients import read_pasted, recipients_prepare, sticky_did
from messaging.models import Direction, Message, OptOut, Status

POOL = ["15162065318", "15162065320", "15162065321", "15162065322", "15162065575"]


@pytest.fixture
def campaign(db, sender):
    return Campaign.objects.create(name="Spread", body="Hi", dids=POOL, created_by=sender)


def _prepare(campaign: Campaign, numbers: list[str]) -> dict[str, str]:
    recipients_prepare(campaign, read_pasted("\n".join("+" + n for n in numbers)))
    return dict(
        Recipient.objects.filter(campaign=campaign, reason="").values_list("number", "our_number")
    )


def _texted(customer: str, our_number: str) -> None:
    Message.objects.create(
        direction=Direction.INBOUND,
        our_number=our_number,
        their_number=customer,
        body="hello",
        status=Status.RECEIVED,
    )


def test_new_customers_are_spread_evenly_over_the_pool(campaign):
    numbers = [f"1212555{i:04d}" for i in range(1003)]
    assigned = _prepare(campaign, numbers)
    shares = Counter(assigned.values())
    assert set(shares) == set(POOL)
    assert sorted(shares.values()) == [200, 200, 201, 201, 201]


def test_a_customer_keeps_the_did_they_text_with_and_new_ones_fill_the_others_first(campaign):
    regulars = [f"1303555{i:04d}" for i in range(30)]
    for number in regulars:
        _texted(number, POOL[0])
    newcomers = [f"1212555{i:04d}" for i in range(20)]
    assigned = _prepare(campaign, regulars + newcomers)
    assert all(assigned[number] == POOL[0] for number in regulars)
    shares = Counter(assigned[number] for number in newcomers)
    assert shares == {POOL[1]: 5, POOL[2]: 5, POOL[3]: 5, POOL[4]: 5}


def test_the_spread_is_the_same_each_time_the_list_is_read(campaign, sender):
    numbers = [f"1212555{i:04d}" for i in range(40)]
    first = _prepare(campaign, numbers)
    again = Campaign.objects.create(name="Again", body="Hi", dids=POOL, created_by=sender)
    assert _prepare(again, numbers) == first


def test_an_opt_out_is_weighed_against_the_did_the_customer_would_have_had(campaign):
    numbers = [f"1212555{i:04d}" for i in range(10)]
    stopped = numbers[3]
    # Opted out of one DID of the pool: kept on it (sticky_did) rather than spread onto
    # another, so the opt-out counts whatever else the list holds.
    own = sticky_did(stopped, POOL, {})
    OptOut.objects.create(
        customer_number=stopped, our_number=own, keyword="STOP", changed_at=timezone.now()
    )
    recipients_prepare(campaign, read_pasted("\n".join("+" + n for n in numbers)))
    row = Recipient.objects.get(campaign=campaign, number=stopped)
    assert (row.our_number, row.reason) == (own, Recipient.Reason.OPTED_OUT)
    shares = Counter(
        Recipient.objects.filter(campaign=campaign).values_list("our_number", flat=True)
    )
    assert shares == dict.fromkeys(POOL, 2)
