"""New conversation from the inbox (issue 16): a number typed any way or a contact, our DID and the
first message, sent in one step; the agent lands in that customer's conversation. The Send page's
checks refuse the same numbers in the same words."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from hypothesis import given
from hypothesis import strategies as st

from contacts.models import Contact
from messaging.models import Conversation, Direction, Message, OptOut, SendingDefaults, Status
from messaging.services.carrier_events import conversation_add_message
from phone_numbers.models import Did
from phone_numbers.sync import numbers_sync
from sandbox.models import SandboxMessage
from tests.conftest import make_user, run_tasks
from tests.fuzz_values import form_data, fuzz_settings
from tests.test_forms_fuzz import answered, get, post

NEW_URL = "/messaging/inbox/new/"
OUR_DID = "15162065575"
OTHER_DID = "15162065576"
CUSTOMER = "15162065319"


def did(number: str, sid: str) -> Did:
    return Did.objects.create(
        did_sid=sid, phonenumber=number, capabilities=3, active_capabilities=3
    )


@pytest.fixture
def dids(db) -> list[Did]:
    return [did(OUR_DID, "did-1"), did(OTHER_DID, "did-2")]


@pytest.fixture
def agent(client, dids):
    """Inbox staff who may also send: who starts conversations."""
    client.force_login(make_user("ines", "Inbox staff", "Senders"))
    return client


def start(
    client, *, to="+1 (516) 206-5319", message="Hello, your order is in.", from_did=OTHER_DID
):
    return client.post(NEW_URL, {"to_did": to, "from_did": from_did, "message": message})


def suggest(client, query: str):
    """What htmx asks while the agent types in To (it names the field that asked)."""
    headers = {"HX-Request": "true", "HX-Trigger-Name": "to_did"}
    return client.get(f"{NEW_URL}?{query}", headers=headers)


def test_the_inbox_url_for_a_new_conversation_is_not_taken_for_a_customer_number():
    assert reverse("messaging:conversation_new") == NEW_URL


def test_the_page_asks_for_the_number_first_and_defaults_to_the_portals_did(agent):
    SendingDefaults.objects.create(default_did=Did.objects.get(phonenumber=OTHER_DID))
    page = agent.get(NEW_URL).content.decode()
    assert "<h1>New conversation</h1>" in page
    assert (
        page.index('name="to_did"') < page.index('name="from_did"') < page.index('name="message"')
    )
    assert f'<option value="{OTHER_DID}" selected>' in page


def test_the_first_message_goes_from_the_chosen_did_to_the_normalised_number_and_opens_it(
    agent,
):
    response = start(agent, message="Hi! Your parcel left today.\nTrack it at example.com")
    assert response.status_code == 302
    assert response["Location"] == reverse("messaging:conversation", args=[CUSTOMER])
    sent = Message.objects.get()
    assert (sent.direction, sent.our_number, sent.their_number) == (
        Direction.OUTBOUND,
        OTHER_DID,
        CUSTOMER,
    )
    assert sent.body == "Hi! Your parcel left today.\nTrack it at example.com"
    assert DBTaskResult.objects.count() == 1  # handed to the worker, once
    assert Conversation.objects.get().customer_number == CUSTOMER
    thread = agent.get(response["Location"]).content.decode()
    assert "Hi! Your parcel left today." in thread


def test_the_carrier_gets_exactly_what_was_typed(sandbox, client):
    numbers_sync()
    client.force_login(make_user("ines", "Inbox staff", "Senders"))
    sandbox_did = Did.objects.sms_capable().first().phonenumber
    response = start(
        client, to="(516) 206 5319", message="Ça va? 50 % off → today", from_did=sandbox_did
    )
    assert response.status_code == 302
    run_tasks()
    carrier_copy = SandboxMessage.objects.get()
    assert carrier_copy.message == "Ça va? 50 % off → today"
    assert carrier_copy.to_number == CUSTOMER
    assert carrier_copy.from_number == sandbox_did


def test_an_existing_conversation_simply_continues(agent):
    earlier = Message.objects.create(
        direction=Direction.INBOUND,
        our_number=OUR_DID,
        their_number=CUSTOMER,
        body="Is it shipped?",
        status=Status.RECEIVED,
    )
    conversation_add_message(earlier)
    response = start(agent, to="5162065319", message="Yes, today.")
    assert response["Location"] == reverse("messaging:conversation", args=[CUSTOMER])
    conversation = Conversation.objects.get()
    assert conversation.last_message.body == "Yes, today."
    assert list(Message.objects.order_by("id").values_list("body", flat=True)) == [
        "Is it shipped?",
        "Yes, today.",
    ]


def test_a_contact_picked_by_name_is_texted_at_their_number(agent):
    Contact.objects.create(number=CUSTOMER, name="Ana Lopez", company="Acme")
    response = start(agent, to="  ana   LOPEZ ")
    assert response.status_code == 302
    assert Message.objects.get().their_number == CUSTOMER


def test_the_to_field_suggests_contacts_by_name_company_and_number(agent):
    Contact.objects.create(
        number=CUSTOMER, name="Ana Lopez", company="Acme", fields={"Order": "12"}
    )
    Contact.objects.create(number="15162065320", name="Bo Chen")
    for typed in ("ana", "acm", "206-5319"):
        fragment = suggest(agent, f"to_did={typed}").content.decode()
        assert fragment.strip().startswith('<datalist id="contact-options">'), typed
        assert '<option value="+1 516-206-5319"' in fragment, typed
        assert "Ana Lopez · Acme" in fragment, typed
        assert "Bo Chen" not in fragment, typed
    assert "&quot;first_name&quot;: &quot;Ana&quot;" in fragment
    assert "&quot;order&quot;: &quot;12&quot;" in fragment


def test_two_contacts_with_the_name_typed_are_not_guessed_between(agent):
    Contact.objects.create(number=CUSTOMER, name="Sam Lee")
    Contact.objects.create(number="15162065320", name="Sam Lee")
    response = start(agent, to="Sam Lee")
    assert response.status_code == 422
    assert "More than one contact is called “Sam Lee”" in response.content.decode()
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    "typed, words",
    [
        ("123", "“123” is not a phone number. Type it with its country or area code"),
        ("Nobody Known", "No contact is called “Nobody Known”. Type the number"),
        ("+1 516-206-5575", "is one of our own DIDs"),
        ("", "Enter the number to text, or a contact&#x27;s name."),
    ],
)
def test_a_bad_number_is_refused_in_the_page_and_nothing_is_sent(agent, typed, words):
    response = start(agent, to=typed)
    assert response.status_code == 422
    assert words in response.content.decode()
    assert not Message.objects.exists()
    assert not DBTaskResult.objects.exists()


def test_an_opted_out_customer_is_refused_as_the_send_page_refuses_them(agent):
    OptOut.objects.create(
        customer_number=CUSTOMER, our_number=OTHER_DID, keyword="STOP", changed_at=timezone.now()
    )
    here = start(agent).content.decode()
    send_page = agent.post(
        "/messaging/", {"to_did": CUSTOMER, "from_did": OTHER_DID, "message": "Hello"}
    ).content.decode()
    refusal = "Not sent: +1 516-206-5319 opted out of +1 516-206-5576 (texted STOP on"
    assert refusal in here
    assert refusal in send_page
    assert not Message.objects.exists()


def test_a_sender_without_the_inbox_or_inbox_staff_without_sending_are_told_why(client, dids):
    for role, reason in (
        ("Senders", "Reading the inbox and messages needs the Inbox staff role"),
        ("Inbox staff", "Sending needs the Senders role"),
    ):
        client.force_login(make_user(role.split()[0].lower(), role))
        for response in (client.get(NEW_URL), start(client)):
            assert response.status_code == 403
            assert reason in response.content.decode()
    assert not Message.objects.exists()


def test_another_htmx_request_gets_the_page_not_the_suggestions(agent):
    page = get(agent, NEW_URL, htmx=True).content.decode()
    assert "<h1>New conversation</h1>" in page


def test_a_message_scheduled_from_here_waits_in_its_conversation(agent):
    send_at = timezone.localtime() + timedelta(hours=2)
    response = agent.post(
        NEW_URL,
        {
            "to_did": CUSTOMER,
            "from_did": OUR_DID,
            "message": "See you tomorrow",
            "send_at": send_at.strftime("%Y-%m-%dT%H:%M"),
            "schedule": "1",
        },
    )
    assert response["Location"] == reverse("messaging:conversation", args=[CUSTOMER])
    scheduled = Message.objects.get()
    assert (scheduled.status, scheduled.body) == (Status.SCHEDULED, "See you tomorrow")
    assert Conversation.objects.filter(customer_number=CUSTOMER).exists()


def test_a_visitor_is_sent_to_sign_in(client, dids):
    response = client.get(NEW_URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_fuzzed_new_conversation_form_and_search_never_answer_5xx(agent):
    Contact.objects.create(number=CUSTOMER, name="Ana Lopez", fields={"x": [1, {"y": None}]})
    base = {"to_did": "+1 516-206-5319", "from_did": OUR_DID, "message": "Hi {first_name}"}

    @fuzz_settings()
    @given(body=form_data(base), htmx=st.booleans())
    def send(body, htmx):
        answered(post(agent, NEW_URL, body, htmx=htmx))

    @fuzz_settings()
    @given(query=form_data({"to_did": "Ana", "saved_reply": "1"}), htmx=st.booleans())
    def search(query, htmx):
        answered(get(agent, NEW_URL, query, htmx=htmx))
        answered(suggest(agent, query))

    send()
    search()
    for path in (NEW_URL, "/messaging/inbox/", "/messaging/"):
        assert agent.get(path).status_code == 200, path
    for message in Message.objects.all():
        assert message.their_number.isdigit()
        assert message.our_number in (OUR_DID, OTHER_DID)
