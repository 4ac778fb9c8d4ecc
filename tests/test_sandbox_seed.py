"""The sandbox's starting world, and `manage.py sandbox_seed`."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from sandbox.models import SandboxDid, SandboxDidGroup, SandboxPartner
from sandbox.seed import PARTNER_SID, seed

pytestmark = pytest.mark.django_db


def test_the_seed_makes_one_partner_one_group_and_twelve_dids():
    partner = seed(sms_callback_url="https://portal.example.com/hook/")

    assert partner.partner_sid == PARTNER_SID
    assert partner.field_naming == "legacy"
    assert partner.callbacks == {
        "sms": "https://portal.example.com/hook/",
        "phonenumber_order": "https://example.com/orders",
    }
    group = SandboxDidGroup.objects.get()
    assert (group.name, group.callback_url) == ("Support", None)
    dids = partner.dids.all()
    assert dids.count() == 12
    assert (
        sum(did.can(SandboxDid.SEND_SMS) and did.can(SandboxDid.RECEIVE_SMS) for did in dids) == 10
    )
    assert [did.capabilities for did in dids if not did.can(SandboxDid.SEND_SMS)] == [4, 4]
    assert dids.filter(did_group=group).count() == 3
    numbers = set(dids.values_list("phonenumber", flat=True))
    assert {"15162065575", "15162065318"} <= numbers
    assert "15162065574" not in numbers  # the tutorial's customer handset
    # Besides them, the inventory of numbers to rent (sandbox/inventory.py).
    assert SandboxDid.objects.filter(partner=None, status="available").count() == 300


def test_seeding_again_changes_nothing_but_the_sms_callback():
    seed(sms_callback_url="https://old.example.com/hook/")
    sids = list(SandboxDid.objects.values_list("did_sid", flat=True))
    SandboxDid.objects.filter(phonenumber="15162065575").update(callback_url="https://kept/")

    partner = seed(sms_callback_url="https://new.example.com/hook/")

    assert SandboxPartner.objects.count() == 1
    assert SandboxDidGroup.objects.count() == 1
    assert list(SandboxDid.objects.values_list("did_sid", flat=True)) == sids
    assert SandboxDid.objects.get(phonenumber="15162065575").callback_url == "https://kept/"
    assert partner.callbacks["sms"] == "https://new.example.com/hook/"
    assert partner.callbacks["phonenumber_order"] == "https://example.com/orders"


def test_the_command_points_the_sms_callback_at_this_portals_webhook(settings):
    settings.CARRIERX_SANDBOX = True
    settings.PUBLIC_URL = "http://127.0.0.1:8123"
    out = StringIO()

    call_command("sandbox_seed", stdout=out)

    webhook = "http://127.0.0.1:8123" + reverse("webhook", args=[settings.CARRIERX_WEBHOOK_SECRET])
    assert SandboxPartner.objects.get().callbacks["sms"] == webhook
    assert webhook in out.getvalue()
    assert "15162065575" in out.getvalue()


def test_the_command_does_nothing_outside_sandbox_mode(settings):
    settings.CARRIERX_SANDBOX = False
    out = StringIO()

    call_command("sandbox_seed", stdout=out)

    assert "nothing to seed" in out.getvalue()
    assert not SandboxPartner.objects.exists()
