"""Saved replies (issue 15): the team's list (who may see, create, change and delete), the
composers' picker (with and without JavaScript), and the refusal to send a text whose
{placeholders} were not filled in."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django_tasks_db.models import DBTaskResult
from hypothesis import given
from hypothesis import strategies as st

from messaging.models import Conversation, Direction, Message, SavedReply, Status
from phone_numbers.models import Did
from tests.conftest import make_user
from tests.fuzz_values import form_data, fuzz_settings
from tests.test_forms_fuzz import answered, get, post

OUR_DID = "15162065575"
CUSTOMER = "15162065319"
LIST_URL = "/messaging/saved-replies/"
NEW_URL = "/messaging/saved-replies/new/"


@pytest.fixture
def did(db) -> Did:
    return Did.objects.create(
        did_sid="did-1", phonenumber=OUR_DID, capabilities=3, active_capabilities=3
    )


@pytest.fixture
def conversation(did) -> Conversation:
    message = Message.objects.create(
        direction=Direction.INBOUND,
        our_number=OUR_DID,
        their_number=CUSTOMER,
        body="Is my order ready?",
        status=Status.RECEIVED,
    )
    from messaging.services.carrier_events import conversation_add_message

    conversation_add_message(message)
    return Conversation.objects.get(customer_number=CUSTOMER)


def signed_in(client, user: User):
    client.force_login(user)
    return client


@pytest.fixture
def pickup(sender) -> SavedReply:
    return SavedReply.objects.create(
        name="Pickup ready",
        body="Hi {first_name}, your order {order} is ready for pickup.",
        created_by=sender,
    )


# --- the list ------------------------------------------------------------------------------------


def test_a_sender_creates_a_saved_reply_and_sees_it_listed_with_its_placeholders(sender_client):
    response = sender_client.post(
        NEW_URL, {"name": "  Pickup   ready ", "body": "Hi {first_name}, order {order} is in."}
    )
    assert response.status_code == 302
    reply = SavedReply.objects.get()
    assert reply.name == "Pickup ready"
    assert reply.created_by.username == "sam"
    page = sender_client.get(LIST_URL).content.decode()
    assert "Pickup ready" in page
    assert "<code>{first_name}</code> <code>{order}</code>" in page


def test_the_empty_list_says_how_to_make_one(sender_client):
    page = sender_client.get(LIST_URL).content.decode()
    assert "No saved replies yet." in page
    assert 'href="/messaging/saved-replies/new/"' in page


def test_names_are_unique_and_the_form_says_so(sender_client, pickup):
    response = sender_client.post(NEW_URL, {"name": "Pickup ready", "body": "Other text"})
    assert response.status_code == 422
    assert "A saved reply with this name exists already" in response.content.decode()
    assert SavedReply.objects.count() == 1


def test_a_blank_name_or_text_is_refused(sender_client):
    response = sender_client.post(NEW_URL, {"name": "   ", "body": "  \n "})
    assert response.status_code == 422
    page = response.content.decode()
    assert "Give it a name." in page
    assert "Type the text of the reply." in page
    assert not SavedReply.objects.exists()


def test_the_author_edits_and_deletes_their_reply(sender_client, pickup):
    edit = reverse("messaging:saved_reply_edit", args=[pickup.pk])
    response = sender_client.post(edit, {"name": "Pickup", "body": "Ready, {first_name}!"})
    assert response.status_code == 302
    pickup.refresh_from_db()
    assert (pickup.name, pickup.body) == ("Pickup", "Ready, {first_name}!")
    delete = reverse("messaging:saved_reply_delete", args=[pickup.pk])
    assert "Delete “Pickup”?" in sender_client.get(delete).content.decode()
    assert SavedReply.objects.exists()  # asking first deletes nothing
    assert sender_client.post(delete).status_code == 302
    assert not SavedReply.objects.exists()


def test_someone_else_may_use_a_reply_but_not_change_it(client, pickup):
    other = signed_in(client, make_user("ines", "Inbox staff"))
    page = other.get(LIST_URL).content.decode()
    assert "Pickup ready" in page
    assert reverse("messaging:saved_reply_edit", args=[pickup.pk]) not in page
    edit = reverse("messaging:saved_reply_edit", args=[pickup.pk])
    response = other.post(edit, {"name": "Mine now", "body": "x"})
    assert response.status_code == 403
    assert "Only the person who created this saved reply" in response.content.decode()
    assert other.post(reverse("messaging:saved_reply_delete", args=[pickup.pk])).status_code == 403
    assert SavedReply.objects.get().name == "Pickup ready"


def test_an_administrator_changes_anyones_reply(client, pickup):
    admin = signed_in(client, make_user("root", superuser=True))
    edit = reverse("messaging:saved_reply_edit", args=[pickup.pk])
    assert admin.post(edit, {"name": "Fixed", "body": "Fixed text"}).status_code == 302
    assert SavedReply.objects.get().name == "Fixed"


def test_people_who_cannot_send_are_told_why(client, pickup):
    admin_only = signed_in(client, make_user("nora", "Number admins"))
    for path in (LIST_URL, NEW_URL, reverse("messaging:saved_reply_edit", args=[pickup.pk])):
        response = admin_only.get(path)
        assert response.status_code == 403
        assert "Saved replies are for people who send texts" in response.content.decode()


def test_a_visitor_is_sent_to_sign_in(client):
    assert client.get(LIST_URL)["Location"].startswith("/accounts/login/")


def test_an_unknown_or_huge_id_is_not_found(sender_client):
    for pk in ("424242", "9" * 30):
        assert sender_client.get(f"/messaging/saved-replies/{pk}/").status_code == 404


# --- the picker ----------------------------------------------------------------------------------


def test_the_messaging_page_offers_the_saved_replies_with_their_texts_for_the_script(
    sender_client, did, pickup
):
    page = sender_client.get("/messaging/").content.decode()
    assert '<label for="id_saved_reply">Saved replies</label>' in page
    assert f'<option value="{pickup.pk}">Pickup ready</option>' in page
    assert 'id="saved-reply-bodies"' in page
    assert "js/saved_replies.js" in page


def test_without_javascript_the_picker_fills_the_message_box(sender_client, did, pickup):
    page = sender_client.get(f"/messaging/?saved_reply={pickup.pk}").content.decode()
    assert "Hi {first_name}, your order {order} is ready for pickup.</textarea>" in page


def test_the_reply_box_offers_them_too_and_fills_without_javascript(client, conversation, pickup):
    staff = signed_in(client, make_user("ines", "Inbox staff"))
    path = reverse("messaging:conversation", args=[CUSTOMER])
    page = staff.get(path).content.decode()
    assert f'<option value="{pickup.pk}">Pickup ready</option>' in page
    filled = staff.get(f"{path}?saved_reply={pickup.pk}").content.decode()
    assert "Hi {first_name}, your order {order} is ready for pickup.</textarea>" in filled


def test_a_bad_saved_reply_parameter_is_ignored(sender_client, did, pickup):
    for value in ("x", "-1", "9" * 40, "１"):
        assert sender_client.get("/messaging/", {"saved_reply": value}).status_code == 200


# --- placeholders left in the text ---------------------------------------------------------------


def test_a_message_with_a_placeholder_left_is_refused_and_nothing_is_sent(sender_client, did):
    response = sender_client.post(
        "/messaging/",
        {"from_did": OUR_DID, "to_did": CUSTOMER, "message": "Hi {first_name}, {order} is ready"},
    )
    assert response.status_code == 422
    assert "Fill in {first_name} and {order} before sending." in response.content.decode()
    assert not Message.objects.exists()
    assert not DBTaskResult.objects.exists()


def test_a_reply_with_a_placeholder_left_is_refused_in_the_reply_box(client, conversation):
    staff = signed_in(client, make_user("ines", "Inbox staff"))
    response = staff.post(
        reverse("messaging:reply", args=[CUSTOMER]),
        {"from_did": OUR_DID, "message": "Hi {first_name}"},
        headers={"HX-Request": "true"},
    )
    assert "Fill in {first_name} before sending." in response.content.decode()
    assert Message.objects.filter(direction=Direction.OUTBOUND).count() == 0


def test_literal_braces_and_filled_in_text_are_sent(sender_client, did):
    for text in ("Reply {{YES}} to confirm", "Hi Ana, order #12 is ready", "Price: { 5 }"):
        response = sender_client.post(
            "/messaging/", {"from_did": OUR_DID, "to_did": CUSTOMER, "message": text}
        )
        assert response.status_code == 302, text
    assert list(Message.objects.order_by("id").values_list("body", flat=True)) == [
        "Reply {{YES}} to confirm",
        "Hi Ana, order #12 is ready",
        "Price: { 5 }",
    ]


# --- fuzz: the saved reply forms take anything without a 5xx -------------------------------------


def test_fuzzed_saved_reply_forms_and_picker_never_answer_5xx(client, conversation, pickup):
    admin = signed_in(client, make_user("root", superuser=True))
    edit = reverse("messaging:saved_reply_edit", args=[pickup.pk])
    delete = reverse("messaging:saved_reply_delete", args=[pickup.pk])
    base = {"name": "Pickup ready", "body": "Hi {first_name}, order {order} is ready."}

    @fuzz_settings()
    @given(body=form_data(base), path=st.sampled_from([NEW_URL, edit]), htmx=st.booleans())
    def save(body, path, htmx):
        answered(post(admin, path, body, htmx=htmx))

    @fuzz_settings()
    @given(
        query=form_data({"saved_reply": str(pickup.pk)}),
        path=st.sampled_from(["/messaging/", f"/messaging/inbox/{CUSTOMER}/", LIST_URL]),
    )
    def pick(query, path):
        answered(get(admin, path, query))

    save()
    pick()
    answered(admin.get(delete))
    for path in (LIST_URL, NEW_URL, "/messaging/"):
        assert admin.get(path).status_code == 200, path
