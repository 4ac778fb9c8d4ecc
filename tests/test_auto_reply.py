"""Auto-reply per DID, and the whole inbound path over real HTTP: handset → sandbox → webhook →
inbox → auto-reply → sandbox → handset."""

from __future__ import annotations

import requests
from django.urls import reverse

from messaging.models import AutoReply, Direction, Message
from messaging.services.auto_reply import render_reply
from phone_numbers.models import Did
from phone_numbers.services import numbers_sync
from sandbox.models import SandboxMessage
from tests.conftest import make_user, run_tasks, sandbox_auth

HANDSET = "15162065574"
OUR_DID = "15162065318"


def text_our_did(live_server, message, *, handset=HANDSET, did=OUR_DID):
    response = requests.post(
        f"{live_server.url}/sandbox/simulate/inbound",
        json={"from": handset, "to": did, "message": message},
        headers=sandbox_auth(),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()


def auto_reply_on(did=OUR_DID, **fields) -> AutoReply:
    numbers_sync()
    rule, _ = AutoReply.objects.update_or_create(
        did=Did.objects.get(phonenumber=did), defaults={"enabled": True, **fields}
    )
    return rule


def test_an_inbound_text_reaches_the_inbox_and_the_auto_reply_reaches_the_handset(
    sandbox, live_server, client
):
    auto_reply_on()
    client.force_login(make_user("ines", "Inbox staff"))
    inbox = reverse("messaging:inbox")
    cursor = client.get(inbox).context["cursor"]

    text_our_did(live_server, "Are you open on Sunday?")
    run_tasks()  # the sandbox fires the callback; our worker answers; the sandbox delivers it

    fragment = client.get(inbox, {"since": cursor}, HTTP_HX_REQUEST="true").content.decode()
    assert f'id="conversation-{HANDSET}" class="conversation-item unread"' in fragment
    assert '<span class="badge unread">1<' in fragment
    thread = client.get(
        reverse("messaging:conversation", args=[HANDSET]),
        {"since": cursor, "last": 0},
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert "Are you open on Sunday?" in thread
    incoming = Message.objects.get(direction=Direction.INBOUND)
    assert (incoming.our_number, incoming.their_number) == (OUR_DID, HANDSET)

    reply = Message.objects.get(auto_reply_to=incoming)
    assert reply.body == "The SMS status is: received"
    assert (reply.our_number, reply.their_number) == (OUR_DID, HANDSET)
    assert reply.status == "delivered"

    at_the_carrier = SandboxMessage.objects.get(message_sid=reply.message_sid)
    assert (at_the_carrier.from_number, at_the_carrier.to_number) == (OUR_DID, HANDSET)
    handset = requests.get(
        f"{live_server.url}/sandbox/phone/", params={"handset": HANDSET}, headers=sandbox_auth()
    )
    assert "The SMS status is: received" in handset.text


def replies_at_the_carrier(handset=HANDSET) -> list[str]:
    """What the carrier was asked to text the handset from our DID."""
    return list(
        SandboxMessage.objects.filter(from_number=OUR_DID, to_number=handset).values_list(
            "message", flat=True
        )
    )


def test_a_duplicate_inbound_callback_is_answered_once(sandbox, live_server):
    auto_reply_on()
    sms = text_our_did(live_server, "hello")
    run_tasks()
    # The carrier delivers the same callback again.
    webhook = live_server.url + reverse("webhook", args=["sandbox-webhook"])
    assert requests.post(webhook, json=sms, timeout=10).status_code == 200
    run_tasks()
    assert Message.objects.filter(auto_reply_to__isnull=False).count() == 1
    assert replies_at_the_carrier() == ["The SMS status is: received"]


def test_a_customer_is_answered_at_most_once_per_interval(sandbox, live_server):
    auto_reply_on(min_interval_minutes=60)
    text_our_did(live_server, "one")
    run_tasks()
    text_our_did(live_server, "two")
    run_tasks()
    assert Message.objects.filter(direction=Direction.INBOUND).count() == 2
    assert Message.objects.filter(auto_reply_to__isnull=False).count() == 1
    assert replies_at_the_carrier() == ["The SMS status is: received"]


def test_auto_reply_stays_silent_when_off(sandbox, live_server):
    rule = auto_reply_on(enabled=False)
    text_our_did(live_server, "anyone there?")
    run_tasks()
    assert Message.objects.get(direction=Direction.INBOUND).body == "anyone there?"
    assert not Message.objects.filter(direction=Direction.OUTBOUND).exists()
    assert replies_at_the_carrier() == []
    # The same text with the rule on is answered: the silence above was the switch.
    rule.enabled = True
    rule.save(update_fields=["enabled"])
    text_our_did(live_server, "anyone there now?")
    run_tasks()
    assert replies_at_the_carrier() == ["The SMS status is: received"]


def test_auto_reply_never_answers_one_of_our_own_dids(sandbox, live_server):
    auto_reply_on()
    text_our_did(live_server, "internal test", handset="15162065575")
    run_tasks()
    internal = Message.objects.get(direction=Direction.INBOUND)
    assert (internal.their_number, internal.body) == ("15162065575", "internal test")
    assert not Message.objects.filter(direction=Direction.OUTBOUND).exists()
    assert replies_at_the_carrier("15162065575") == []
    # A customer's text to the same DID is answered: the silence above was about who texted.
    text_our_did(live_server, "customer test")
    run_tasks()
    assert replies_at_the_carrier() == ["The SMS status is: received"]


def test_the_reply_template_fills_known_fields_and_keeps_the_rest():
    inbound = Message(status="received", body="hi", their_number="1555", our_number="1666")
    assert render_reply("{status} from {from} to {to}: {message} {other}", inbound) == (
        "received from 1555 to 1666: hi {other}"
    )
    assert render_reply("broken {", inbound) == "broken {"


def _did(number=OUR_DID) -> Did:
    return Did.objects.create(did_sid=f"sid-{number}", phonenumber=number, active_capabilities=7)


def test_a_number_admin_turns_auto_reply_on_for_a_did(db, client):
    did = _did()
    client.force_login(make_user("nora", "Number admins"))
    response = client.post(
        reverse("messaging:auto_reply_save", args=[did.did_sid]),
        {"enabled": "on", "template": "Thanks! We got: {message}", "min_interval_minutes": 5},
    )
    assert response.status_code == 302
    rule = AutoReply.objects.get(did=did)
    assert (rule.enabled, rule.template, rule.min_interval_minutes) == (
        True,
        "Thanks! We got: {message}",
        5,
    )
    page = client.get(reverse("messaging:auto_replies")).content.decode()
    assert "Thanks! We got: {message}" in page


def test_an_empty_reply_is_refused_and_nothing_is_saved(db, client):
    did = _did()
    client.force_login(make_user("nora", "Number admins"))
    response = client.post(
        reverse("messaging:auto_reply_save", args=[did.did_sid]),
        {"enabled": "on", "template": "", "min_interval_minutes": 5},
    )
    assert response.status_code == 422
    assert "This field is required." in response.content.decode()
    assert not AutoReply.objects.exists()


def test_a_sender_cannot_change_auto_reply(db, client):
    did = _did()
    client.force_login(make_user("sam", "Senders"))
    response = client.post(
        reverse("messaging:auto_reply_save", args=[did.did_sid]),
        {"enabled": "on", "template": "x", "min_interval_minutes": 5},
    )
    assert response.status_code == 403
    assert not AutoReply.objects.exists()
