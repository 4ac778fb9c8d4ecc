"""SMS enablement of a number over real HTTP against the sandbox: enable goes in_progress and
settles enabled (active capabilities updated) or failed with the carrier's reason; disable; the
rename; the list's filters and health column; a sender changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from phone_numbers.models import Did, NumberChange
from phone_numbers.sync import numbers_sync
from sandbox.models import SandboxDid
from tests.conftest import run_tasks

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def fresh(sandbox, settings, admin_client_):
    """A number just rented through the portal: SMS possible, not enabled."""
    settings.NUMBERS_ENABLEMENT_POLL_SECONDS = 0
    number = (
        SandboxDid.objects.filter(status="available", capabilities=31).order_by("pk").first()
    ).phonenumber
    admin_client_.post(
        "/numbers/rent/confirm/", {"step": "confirm", "phonenumber": number, "confirm": "on"}
    )
    return Did.objects.get(phonenumber=number)


def enable(client, did, **extra):
    return client.post(
        reverse("numbers:messaging", args=[did.did_sid]), {"enabled": "true", **extra}
    )


def test_enable_goes_in_progress_then_enabled_and_active_capabilities_follow(fresh, admin_client_):
    assert fresh.active_capabilities == 4

    enable(admin_client_, fresh)
    fresh.refresh_from_db()
    assert fresh.messaging_status == "in_progress"
    page = admin_client_.get(fresh.get_absolute_url()).content.decode()
    assert 'hx-trigger="every 2s' in page
    run_tasks()

    fresh.refresh_from_db()
    assert fresh.messaging_status == "enabled"
    assert fresh.messaging_enabled
    assert fresh.active_capabilities == 31
    assert SandboxDid.objects.get(did_sid=fresh.did_sid).messaging_status == "enabled"
    section = admin_client_.get(
        reverse("numbers:messaging", args=[fresh.did_sid]), headers={"HX-Request": "true"}
    ).content.decode()
    assert ">enabled<" in section
    assert "hx-trigger" not in section
    change = NumberChange.objects.get(action="enable")
    assert change.outcome == "accepted"
    assert '"enabled": true' in change.asked


def test_a_rejected_campaign_ends_failed_with_the_reason_shown(fresh, admin_client_):
    enable(admin_client_, fresh, campaign_sid="rejected-campaign-1")
    run_tasks()

    fresh.refresh_from_db()
    assert fresh.messaging_status == "failed"
    page = admin_client_.get(fresh.get_absolute_url()).content.decode()
    assert "rejected by the Campaign Registry" in page
    listed = admin_client_.get(reverse("numbers:list"), {"show": "failed"}).content.decode()
    assert fresh.phonenumber in listed
    assert "SMS enablement failed" in listed


def test_disable_turns_sms_off_at_the_carrier(fresh, admin_client_):
    enable(admin_client_, fresh)
    run_tasks()

    admin_client_.post(reverse("numbers:messaging", args=[fresh.did_sid]), {"enabled": "false"})
    run_tasks()

    fresh.refresh_from_db()
    assert fresh.messaging_status == "disabled"
    assert fresh.active_capabilities == 4
    assert [c.action for c in NumberChange.objects.order_by("pk")] == ["rent", "enable", "disable"]


def test_rename_sets_the_name_at_the_carrier_and_is_audited(fresh, admin_client_):
    admin_client_.post(reverse("numbers:name", args=[fresh.did_sid]), {"name": "Front desk"})

    fresh.refresh_from_db()
    assert fresh.name == "Front desk"
    assert SandboxDid.objects.get(did_sid=fresh.did_sid).name == "Front desk"
    assert NumberChange.objects.get(action="rename").outcome == "accepted"
    assert "Front desk" in admin_client_.get(fresh.get_absolute_url()).content.decode()


def test_a_sender_gets_403_on_every_new_post_and_nothing_changes(fresh, client, sender):
    client.force_login(sender)
    before = NumberChange.objects.count()
    posts = [
        (reverse("numbers:messaging", args=[fresh.did_sid]), {"enabled": "true"}),
        (reverse("numbers:name", args=[fresh.did_sid]), {"name": "Mine"}),
        (reverse("numbers:release", args=[fresh.did_sid]), {"confirm_number": fresh.phonenumber}),
        (reverse("numbers:rent_confirm"), {"step": "confirm", "phonenumber": "15125550100"}),
    ]

    codes = [client.post(url, data).status_code for url, data in posts]

    assert codes == [403, 403, 403, 403]
    assert NumberChange.objects.count() == before
    carrier = SandboxDid.objects.get(did_sid=fresh.did_sid)
    assert (carrier.status, carrier.messaging_status, carrier.name) == (
        "assigned",
        "disabled",
        "N/A",
    )


def test_the_list_flags_sms_not_enabled_and_stuck_enablements(fresh, admin_client_):
    numbers_sync()
    stuck = Did.objects.exclude(pk=fresh.pk).filter(active_capabilities__gt=4).first()
    Did.objects.filter(pk=stuck.pk).update(
        messaging_status="in_progress", messaging_status_at=timezone.now() - timedelta(minutes=20)
    )

    sms_off = admin_client_.get(reverse("numbers:list"), {"show": "sms-off"}).content.decode()
    everything = admin_client_.get(reverse("numbers:list")).content.decode()

    assert fresh.phonenumber in sms_off
    assert stuck.phonenumber not in sms_off
    assert "in progress for over 15 minutes" in everything
    assert "active: voice" in everything
