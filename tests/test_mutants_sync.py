"""The numbers sync where mutation testing (docs/mutation-testing.md) found the suite silent: every
field a full sync stores and drops, its record in SyncRun and SyncStatus, a failed sync leaving the
cache as it was, and one DID stored outside a full sync. The carrier is mocked only at the HTTP
seam (`responses`); the sync itself and the database are real."""

from __future__ import annotations

from datetime import timedelta

import pytest
import responses
from django.utils import timezone

from phone_numbers.models import CAP_SMS, Did, DidGroup, Partner, SyncRun, SyncStatus
from phone_numbers.selectors import portal_webhook_url
from phone_numbers.sync import SyncResult, callbacks_astray_recount, did_store, numbers_sync
from portal.carrierx import CarrierXError

pytestmark = pytest.mark.django_db

CARRIER = "https://carrierx.test/core/v2"
PARTNERS_URL = f"{CARRIER}/partners"
GROUPS_URL = f"{CARRIER}/phonenumber/did_groups"
DIDS_URL = f"{CARRIER}/phonenumber/dids"
ELSEWHERE = "https://elsewhere.example/sms"


@pytest.fixture
def carrier(settings):
    """Every request must be answered by a registered response, and every one asked for."""
    settings.CARRIERX_API_URL = CARRIER
    with responses.RequestsMock() as mock:
        yield mock


def listing(*items: dict) -> dict:
    return {"count": len(items), "has_more": False, "items": list(items), "pagination": {}}


def carrier_lists(carrier, *, partners=(), groups=(), dids=()) -> None:
    carrier.get(PARTNERS_URL, json=listing(*partners))
    carrier.get(GROUPS_URL, json=listing(*groups))
    carrier.get(DIDS_URL, json=listing(*dids))


def did_at_carrier(n: int, **fields) -> dict:
    return {
        "did_sid": f"did-{n}",
        "phonenumber": f"1516206557{n}",
        "name": f"Line {n}",
        "capabilities": 31,
        "active_capabilities": CAP_SMS,
        "callback_url": ELSEWHERE,
        "partner_sid": "partner-1",
        "did_group_sid": "group-1",
        **fields,
    }


def cached_before() -> None:
    """What an earlier sync left: a partner, a group and two DIDs the carrier has since dropped."""
    Partner.objects.create(partner_sid="partner-gone", name="Old account")
    DidGroup.objects.create(did_group_sid="group-gone", name="Old group")
    Did.objects.create(did_sid="did-gone", phonenumber="15162065500")
    Did.objects.create(did_sid="did-gone-too", phonenumber="15162065501")


def test_a_full_sync_stores_every_field_the_carrier_gave_and_drops_what_it_no_longer_lists(
    carrier,
):
    cached_before()
    released = Did.objects.create(
        did_sid="did-released", phonenumber="15162065599", released_at=timezone.now()
    )
    partner = {"partner_sid": "partner-1", "name": "Acme", "callbacks": {"sms": ELSEWHERE}}
    group = {"did_group_sid": "group-1", "name": "Support", "callback_url": ELSEWHERE}
    dids = [did_at_carrier(1), did_at_carrier(2, did_group_sid=None, callback_url=None)]
    carrier_lists(carrier, partners=[partner], groups=[group], dids=dids)

    before = timezone.now()
    assert numbers_sync() == SyncResult(dids=2, groups=1)
    after = timezone.now()

    stored_partner = Partner.objects.get()
    assert (stored_partner.partner_sid, stored_partner.name, stored_partner.callbacks) == (
        "partner-1",
        "Acme",
        {"sms": ELSEWHERE},
    )
    assert before <= stored_partner.synced_at <= after
    stored_group = DidGroup.objects.get()
    assert (stored_group.did_group_sid, stored_group.name, stored_group.callback_url) == (
        "group-1",
        "Support",
        ELSEWHERE,
    )
    assert stored_group.synced_at == stored_partner.synced_at
    first, second = Did.objects.rented().order_by("did_sid")
    assert (
        first.did_sid,
        first.phonenumber,
        first.name,
        first.capabilities,
        first.active_capabilities,
        first.callback_url,
        first.partner_sid,
        first.group,
        first.raw,
    ) == (
        "did-1",
        "15162065571",
        "Line 1",
        31,
        CAP_SMS,
        ELSEWHERE,
        "partner-1",
        stored_group,
        dids[0],
    )
    assert first.synced_at == stored_partner.synced_at
    assert (second.did_sid, second.group, second.callback_url) == ("did-2", None, "")
    # A released number is no longer rented: the sync neither lists nor removes it.
    assert Did.objects.filter(pk=released.pk).exists()

    run = SyncRun.objects.get()
    assert (run.dids, run.groups, run.removed) == (2, 1, 2)
    status = SyncStatus.objects.get()
    assert (status.attempts, status.failures, status.last_error) == (1, 0, "")
    assert before <= status.last_attempt_at <= status.last_success_at == run.finished_at <= after
    assert status.callbacks_astray == 2  # both SMS numbers send their texts elsewhere


def test_a_full_sync_stores_empty_values_for_what_the_carrier_left_out(carrier):
    carrier_lists(
        carrier,
        partners=[{"partner_sid": "partner-1", "name": None, "callbacks": None}],
        groups=[{"did_group_sid": "group-1"}],
        dids=[{"did_sid": "did-1"}],
    )

    numbers_sync()

    partner = Partner.objects.get()
    assert (partner.name, partner.callbacks) == ("", {})
    group = DidGroup.objects.get()
    assert (group.name, group.callback_url) == ("", "")
    did = Did.objects.get()
    assert (
        did.phonenumber,
        did.name,
        did.capabilities,
        did.active_capabilities,
        did.callback_url,
        did.partner_sid,
        did.group,
    ) == ("", "", 0, 0, "", "", None)
    assert SyncStatus.objects.get().callbacks_astray == 0  # not an SMS number


def test_a_sync_of_numbers_that_reach_the_portal_counts_none_astray(carrier):
    carrier_lists(carrier, dids=[did_at_carrier(1, callback_url=portal_webhook_url())])
    SyncStatus.objects.create(pk=SyncStatus.ROW, callbacks_astray=5, failures=2, last_error="x")

    numbers_sync()

    status = SyncStatus.objects.get()
    assert (status.callbacks_astray, status.failures, status.last_error) == (0, 0, "")


def test_a_failed_sync_leaves_the_cache_as_it_was_and_records_the_carriers_reason(carrier):
    cached_before()
    SyncStatus.objects.create(pk=SyncStatus.ROW, attempts=3, failures=1, last_error="Earlier.")
    carrier.get(PARTNERS_URL, json=listing({"partner_sid": "partner-1"}))
    carrier.get(GROUPS_URL, json=listing())
    carrier.get(DIDS_URL, status=503, json={"message": "Service Unavailable"})

    with pytest.raises(CarrierXError):
        numbers_sync()

    assert set(Did.objects.values_list("did_sid", flat=True)) == {"did-gone", "did-gone-too"}
    assert list(Partner.objects.values_list("partner_sid", flat=True)) == ["partner-gone"]
    assert list(DidGroup.objects.values_list("did_group_sid", flat=True)) == ["group-gone"]
    assert not SyncRun.objects.exists()
    status = SyncStatus.objects.get()
    assert (status.attempts, status.failures) == (4, 2)
    assert status.last_error == "Service Unavailable (HTTP 503)"
    assert status.last_success_at is None


def test_a_did_stored_outside_a_full_sync_finds_its_group_itself():
    group = DidGroup.objects.create(did_group_sid="group-1", name="Support")

    before = timezone.now()
    in_group = did_store(did_at_carrier(1))
    in_unknown_group = did_store(did_at_carrier(2, did_group_sid="group-unknown"))
    in_none = did_store(did_at_carrier(3, did_group_sid=None))

    assert in_group.group == group
    assert in_unknown_group.group is None
    assert in_none.group is None
    assert before <= in_group.synced_at <= timezone.now()


def test_a_did_stored_again_is_updated_in_place_and_keeps_the_time_it_was_given():
    did_store(did_at_carrier(1))
    synced_at = timezone.now() - timedelta(minutes=5)

    did = did_store(did_at_carrier(1, name="Renamed", did_group_sid=None), synced_at=synced_at)

    assert Did.objects.get() == did
    assert (did.name, did.synced_at) == ("Renamed", synced_at)


def test_recounting_the_numbers_astray_follows_a_change_we_made():
    SyncStatus.objects.create(pk=SyncStatus.ROW, callbacks_astray=0)
    did_store(did_at_carrier(1))
    did_store(did_at_carrier(2, callback_url=portal_webhook_url()))

    callbacks_astray_recount()

    assert SyncStatus.objects.get().callbacks_astray == 1
