"""For each DID the carrier calls the first non-empty of: the DID's `callback_url`, its DID
Group's `callback_url`, the Partner's `callbacks.sms`. The portal shows that effective URL and its
source, and the sandbox fires its callbacks by the same rule."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from messaging.services.outbound import message_send
from phone_numbers.models import Did, DidGroup, Partner
from phone_numbers.selectors import effective_callback, portal_webhook_url
from phone_numbers.sync import numbers_sync
from sandbox.models import SandboxCallbackAttempt
from tests.conftest import run_tasks

pytest_plugins = ["tests.callback_sink"]

SUPPORT_1 = "15162065320"  # in the seeded "Support" group
HANDSET = "15162065574"


# --- The rule, on the local cache --------------------------------------------------------------


@pytest.fixture
def cached(db) -> Did:
    partner = Partner.objects.create(partner_sid="p-1", callbacks={"sms": "https://partner.test/"})
    group = DidGroup.objects.create(did_group_sid="g-1", name="Support")
    return Did.objects.create(
        did_sid="d-1", phonenumber=SUPPORT_1, group=group, partner_sid=partner.partner_sid
    )


def test_the_dids_own_url_wins(cached):
    cached.callback_url = "https://did.test/"
    cached.group.callback_url = "https://group.test/"
    assert effective_callback(cached) == ("https://did.test/", "DID", False)


def test_without_its_own_url_a_did_uses_its_groups(cached):
    cached.group.callback_url = "https://group.test/"
    assert effective_callback(cached)[:2] == ("https://group.test/", "Group")


def test_without_a_did_or_group_url_the_partners_sms_callback_applies(cached):
    assert effective_callback(cached)[:2] == ("https://partner.test/", "Partner")


def test_a_did_outside_any_group_falls_through_to_the_partner(cached):
    cached.group = None
    assert effective_callback(cached)[:2] == ("https://partner.test/", "Partner")


def test_other_partner_callback_kinds_never_count(cached):
    Partner.objects.update(callbacks={"phonenumber_order": "https://orders.test/"})
    assert effective_callback(cached)[:2] == ("", "none")


def test_the_effective_url_reaches_the_portal_only_when_it_is_the_webhook_url(cached):
    cached.callback_url = portal_webhook_url()
    assert effective_callback(cached).reaches_portal
    cached.callback_url = portal_webhook_url() + "x"
    assert not effective_callback(cached).reaches_portal


# --- The rule at the sandbox, and on the page, over real HTTP ----------------------------------


def effective_cell(page: str, number: str) -> tuple[str, str]:
    """(source, text) of the list's effective column for one DID."""
    row = re.search(rf'data-did="{number}".*?</tr>', page, re.DOTALL).group(0)
    cell = re.search(r'<td class="effective" data-source="(\w+)">(.*?)</td>', row, re.DOTALL)
    return cell.group(1), cell.group(2)


def arrived_only_at(sink, path: str, message_sid: str) -> None:
    """The sink received the message's status callbacks at `path`, and at no other path."""
    where = {got for got, body in sink.received if body.get("message_sid") == message_sid}
    assert where == {path}, sink.received


def next_callback_url(sink) -> str:
    """Send an SMS from the Support DID and return where the sandbox POSTed its status callbacks,
    having checked they arrived there."""
    message = message_send(from_number=SUPPORT_1, to=HANDSET, body="x")
    run_tasks()
    message.refresh_from_db()
    assert message.message_sid, message.error
    urls = set(
        SandboxCallbackAttempt.objects.filter(request_body__message_sid=message.message_sid)
        .values_list("url", flat=True)
        .distinct()
    )
    assert len(urls) == 1, urls
    url = urls.pop()
    arrived_only_at(sink, url.removeprefix(sink.url), message.message_sid)
    return url


def test_clearing_the_did_url_makes_the_group_then_the_partner_take_effect(
    sandbox, admin_client_, callback_sink
):
    numbers_sync()
    did = Did.objects.get(phonenumber=SUPPORT_1)
    group = did.group
    did_url, group_url, partner_url = (
        callback_sink.url + "/did",
        callback_sink.url + "/group",
        callback_sink.url + "/partner",
    )
    edit_did = reverse("numbers:did_callback", args=[did.did_sid])
    edit_group = reverse("numbers:group_callback", args=[group.did_group_sid])
    admin_client_.post(edit_did, {"callback_url": did_url})
    admin_client_.post(edit_group, {"callback_url": group_url})
    admin_client_.post(reverse("numbers:partner_callback"), {"callback_url": partner_url})

    page = admin_client_.get("/numbers/").content.decode()
    assert effective_cell(page, SUPPORT_1)[0] == "DID"
    assert did_url in effective_cell(page, SUPPORT_1)[1]
    assert next_callback_url(callback_sink) == did_url

    admin_client_.post(edit_did, {"action": "clear", "confirm": "yes"})

    page = admin_client_.get("/numbers/").content.decode()
    assert effective_cell(page, SUPPORT_1)[0] == "Group"
    assert group_url in effective_cell(page, SUPPORT_1)[1]
    assert next_callback_url(callback_sink) == group_url

    admin_client_.post(edit_group, {"action": "clear", "confirm": "yes"})

    page = admin_client_.get("/numbers/").content.decode()
    assert effective_cell(page, SUPPORT_1)[0] == "Partner"
    assert partner_url in effective_cell(page, SUPPORT_1)[1]
    assert next_callback_url(callback_sink) == partner_url
    detail = admin_client_.get(did.get_absolute_url()).content.decode()
    assert 'data-source="Partner"' in detail
    assert "lost to us" in detail  # the sink is not this portal

    admin_client_.post(
        reverse("numbers:partner_callback"),
        {"action": "clear", "confirm": "yes", "confirm_word": "CLEAR"},
    )

    page = admin_client_.get("/numbers/").content.decode()
    assert effective_cell(page, SUPPORT_1)[0] == "none"
    before = SandboxCallbackAttempt.objects.count()
    received = len(callback_sink.received)
    last = message_send(from_number=SUPPORT_1, to=HANDSET, body="x")
    run_tasks()
    last.refresh_from_db()
    assert last.message_sid, last.error  # sent; only its callbacks go nowhere
    assert SandboxCallbackAttempt.objects.count() == before  # nobody to call
    assert len(callback_sink.received) == received
    assert "CarrierX calls no one" in admin_client_.get(did.get_absolute_url()).content.decode()


def test_moving_a_did_into_a_group_makes_the_groups_url_take_effect(
    sandbox, admin_client_, callback_sink
):
    numbers_sync()
    did = Did.objects.get(phonenumber="15162065576")  # Sales 1, in no group
    group = DidGroup.objects.get(name="Support")
    admin_client_.post(
        reverse("numbers:group_callback", args=[group.did_group_sid]),
        {"callback_url": callback_sink.url + "/group"},
    )
    assert effective_callback(did).source == "Partner"

    admin_client_.post(
        reverse("numbers:did_group", args=[did.did_sid]), {"did_group_sid": group.did_group_sid}
    )

    did.refresh_from_db()
    assert effective_callback(did) == (callback_sink.url + "/group", "Group", False)
    message = message_send(from_number=did.phonenumber, to=HANDSET, body="x")
    run_tasks()
    message.refresh_from_db()
    assert SandboxCallbackAttempt.objects.order_by("pk").last().url == callback_sink.url + "/group"
    arrived_only_at(callback_sink, "/group", message.message_sid)
