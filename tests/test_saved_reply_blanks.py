"""Saved replies with blanks (issue 16): a reply picked in a composer brings its id along, and a
message that still holds one of that reply's blanks is refused, naming the blank as the composer
labels it; filled in, the filled text is what is sent. The contact's record pre-fills the blanks
it knows."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django_tasks_db.models import DBTaskResult
from hypothesis import given
from hypothesis import strategies as st

from contacts.models import Contact
from messaging.models import Conversation, Direction, Message, SavedReply, Status
from messaging.selectors.recipients import contact_blanks
from messaging.services.carrier_events import conversation_add_message
from messaging.text_templates import blank_label
from phone_numbers.models import Did
from tests.conftest import make_user
from tests.fuzz_values import form_data, fuzz_settings
from tests.test_forms_fuzz import answered, post

OUR_DID = "15162065575"
CUSTOMER = "15162065319"
SEND_URL = "/messaging/"
NEW_URL = "/messaging/inbox/new/"
REPLY_URL = f"/messaging/inbox/{CUSTOMER}/reply/"
SHIPPED = "Hi {first_name}, your order {order_number} ships {day}."


@pytest.fixture
def agent(client, db):
    Did.objects.create(did_sid="did-1", phonenumber=OUR_DID, capabilities=3, active_capabilities=3)
    client.force_login(make_user("ines", "Inbox staff", "Senders"))
    return client


@pytest.fixture
def shipped(db) -> SavedReply:
    return SavedReply.objects.create(name="Order shipped", body=SHIPPED)


@pytest.fixture
def conversation(agent) -> Conversation:
    message = Message.objects.create(
        direction=Direction.INBOUND,
        our_number=OUR_DID,
        their_number=CUSTOMER,
        body="Where is my order?",
        status=Status.RECEIVED,
    )
    conversation_add_message(message)
    return Conversation.objects.get()


def outbound() -> list[str]:
    return list(
        Message.objects.filter(direction=Direction.OUTBOUND)
        .order_by("id")
        .values_list("body", flat=True)
    )


# Each composer: where it posts, and the fields besides the message.
COMPOSERS = {
    "send page": (SEND_URL, {"from_did": OUR_DID, "to_did": CUSTOMER}),
    "new conversation": (NEW_URL, {"from_did": OUR_DID, "to_did": CUSTOMER}),
    "reply box": (REPLY_URL, {"from_did": OUR_DID}),
}


@pytest.mark.parametrize("composer", COMPOSERS)
def test_an_unfilled_blank_refuses_the_send_naming_it_and_the_reply(
    agent, shipped, conversation, composer
):
    url, fields = COMPOSERS[composer]
    message = "Hi Ana, your order {order_number} ships {day}."
    response = agent.post(url, {**fields, "message": message, "saved_reply_id": shipped.pk})
    page = response.content.decode()
    assert (
        "Fill in the blanks Order number ({order_number}) and Day ({day}) of the saved reply "
        "“Order shipped” before sending." in page
    )
    assert outbound() == []
    assert not DBTaskResult.objects.exists()


@pytest.mark.parametrize("composer", COMPOSERS)
def test_filled_in_the_message_sent_is_the_filled_text(agent, shipped, conversation, composer):
    url, fields = COMPOSERS[composer]
    filled = "Hi Ana, your order A-1042 ships on Monday."
    response = agent.post(url, {**fields, "message": filled, "saved_reply_id": shipped.pk})
    assert response.status_code == 302
    assert outbound() == [filled]


def test_one_blank_left_is_named_alone(agent, shipped):
    response = agent.post(
        SEND_URL,
        {
            "from_did": OUR_DID,
            "to_did": CUSTOMER,
            "message": "Hi Ana, your order 12 ships {day}.",
            "saved_reply_id": str(shipped.pk),
        },
    )
    assert "Fill in the blank Day ({day}) of the saved reply “Order shipped”" in (
        response.content.decode()
    )


@pytest.mark.parametrize("reply_id", ["", "999999", "-1", "abc", "²", "1" * 40])
def test_without_a_known_reply_a_placeholder_left_is_still_refused_by_its_name(
    agent, shipped, reply_id
):
    response = agent.post(
        SEND_URL,
        {
            "from_did": OUR_DID,
            "to_did": CUSTOMER,
            "message": "Ships {day}",
            "saved_reply_id": reply_id,
        },
    )
    assert response.status_code == 422
    assert "Fill in {day} before sending." in response.content.decode()
    assert outbound() == []


def test_a_placeholder_typed_by_hand_beside_a_filled_reply_is_still_refused(agent, shipped):
    response = agent.post(
        SEND_URL,
        {
            "from_did": OUR_DID,
            "to_did": CUSTOMER,
            "message": "Hi Ana, your order 12 ships today. {ps}",
            "saved_reply_id": shipped.pk,
        },
    )
    assert "Fill in {ps} before sending." in response.content.decode()
    assert outbound() == []


def test_every_composer_carries_the_hidden_reply_id_and_a_box_for_the_blanks(
    agent, shipped, conversation
):
    for url in (SEND_URL, NEW_URL, reverse("messaging:conversation", args=[CUSTOMER])):
        page = agent.get(url).content.decode()
        assert '<input type="hidden" name="saved_reply_id" id="id_saved_reply_id">' in page, url
        assert '<fieldset class="saved-reply-blanks" hidden>' in page, url
        assert "js/saved_replies.js" in page, url


def test_the_conversation_hands_its_contacts_known_blanks_to_the_picker(
    agent, shipped, conversation
):
    Contact.objects.create(number=CUSTOMER, name="Ana María Lopez", fields={"Order Number": "A-7"})
    page = agent.get(reverse("messaging:conversation", args=[CUSTOMER])).content.decode()
    assert 'data-known="saved-reply-known"' in page
    assert '<script id="saved-reply-known" type="application/json">' in page
    assert '"first_name": "Ana"' in page
    assert '"last_name": "Mar\\u00eda Lopez"' in page
    assert '"order_number": "A-7"' in page


def test_without_a_contact_no_known_blanks_are_offered(agent, shipped, conversation):
    page = agent.get(reverse("messaging:conversation", args=[CUSTOMER])).content.decode()
    assert "saved-reply-known" not in page


def test_a_contact_fills_its_name_company_and_fields_under_their_placeholder_names():
    contact = Contact(
        number=CUSTOMER, name=" Bo ", company="Acme", fields={"Plan Tier": "Gold", "Empty": " "}
    )
    assert contact_blanks(contact) == {
        "plan_tier": "Gold",
        "name": "Bo",
        "first_name": "Bo",
        "company": "Acme",
    }
    assert contact_blanks(None) == {}
    assert contact_blanks(Contact(number=CUSTOMER, fields=["not", "a", "dict"])) == {}


def test_a_blank_is_labelled_in_words():
    assert blank_label("order_number") == "Order number"
    assert blank_label("day") == "Day"
    assert blank_label("_") == "_"
    assert blank_label("__first__name") == "First name"


def test_fuzzed_reply_ids_and_values_never_answer_5xx_nor_send_a_blank(
    agent, shipped, conversation
):
    admin = agent
    base = {
        "from_did": OUR_DID,
        "to_did": CUSTOMER,
        "message": SHIPPED,
        "saved_reply_id": str(shipped.pk),
    }

    @fuzz_settings()
    @given(
        body=form_data(base),
        url=st.sampled_from([SEND_URL, NEW_URL, REPLY_URL]),
        htmx=st.booleans(),
    )
    def send(body, url, htmx):
        answered(post(admin, url, body, htmx=htmx))

    send()
    for url in (SEND_URL, NEW_URL, reverse("messaging:conversation", args=[CUSTOMER])):
        assert admin.get(url).status_code == 200, url
    for body in outbound():
        for blank in ("{first_name}", "{order_number}", "{day}"):
            assert blank not in body


@pytest.mark.parametrize("url", [SEND_URL, NEW_URL])
def test_without_javascript_the_picked_reply_fills_the_box_and_its_id(agent, shipped, url):
    page = agent.get(f"{url}?saved_reply={shipped.pk}").content.decode()
    assert f'name="saved_reply_id" value="{shipped.pk}"' in page
    assert SHIPPED in page
