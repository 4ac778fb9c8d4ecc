"""Small things that add up: a message page goes back where the user came from and highlights
that nav item; the portal-wide default From DID an admin picked; a reply to someone who opted out
starts from a DID they have not opted out of; callback JSON shown as UTF-8; the opt-out refusal
next to the To DID it concerns."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from messaging.models import (
    CarrierEvent,
    Conversation,
    Direction,
    Message,
    OptOut,
    SenderProfile,
    SendingDefaults,
    Status,
)
from phone_numbers.models import Did
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

MAIN_LINE = "15162065575"
INBOUND_LINE = "15162065318"
SALES = "15162065576"
CUSTOMER = "12125550142"


@pytest.fixture(autouse=True)
def dids() -> dict[str, Did]:
    made = {}
    # Created in number order, as a sync would list them: Inbound line comes first.
    for number, name in (
        (INBOUND_LINE, "Inbound line"),
        (MAIN_LINE, "Main line"),
        (SALES, "Sales"),
    ):
        made[number] = Did.objects.create(
            did_sid=number, phonenumber=number, name=name, capabilities=7, active_capabilities=7
        )
    return made


@pytest.fixture
def staff() -> Client:
    client = Client()
    client.force_login(make_user("sam", "Senders", "Inbox staff"))
    return client


@pytest.fixture
def message() -> Message:
    return Message.objects.create(
        message_sid="sid-1",
        direction=Direction.OUTBOUND,
        our_number=MAIN_LINE,
        their_number=CUSTOMER,
        body="Hi",
        status=Status.DELIVERED,
    )


def current_nav_item(page: str) -> str:
    nav = page[page.index('<nav class="mainnav"') : page.index("</nav>")]
    return nav.split('aria-current="page">', 1)[1].split("<", 1)[0]


# --- where a message page goes back to -----------------------------------------------------------


def test_a_message_opened_from_messages_goes_back_to_messages_and_highlights_it(staff, message):
    url = reverse("messaging:message", args=[message.pk]) + "?from=messages"
    page = staff.get(url).content.decode()
    assert '<a href="/messaging/messages/">← Messages</a>' in page
    assert current_nav_item(page) == "Messages"


def test_the_back_link_keeps_the_messages_filters_from_a_same_site_referer(staff, message):
    url = reverse("messaging:message", args=[message.pk]) + "?from=messages"
    filtered = "http://testserver/messaging/messages/?status=delivered"
    page = staff.get(url, HTTP_REFERER=filtered).content.decode()
    assert f'<a href="{filtered}">← Messages</a>' in page


def test_a_referer_from_another_site_is_never_the_back_link(staff, message):
    url = reverse("messaging:message", args=[message.pk]) + "?from=messages"
    page = staff.get(url, HTTP_REFERER="https://evil.example/messaging/messages/").content
    assert b"evil.example" not in page
    assert b'<a href="/messaging/messages/">' in page


def test_a_message_opened_from_a_conversation_goes_back_to_it_and_highlights_inbox(staff, message):
    page = staff.get(reverse("messaging:message", args=[message.pk])).content.decode()
    assert f'<a href="/messaging/inbox/{CUSTOMER}/">← Conversation with' in page
    assert current_nav_item(page) == "Inbox"


def test_a_message_opened_from_recently_sent_goes_back_to_messaging(staff, message):
    url = reverse("messaging:message", args=[message.pk]) + "?from=send"
    page = staff.get(url).content.decode()
    assert '<a href="/messaging/">← Messaging</a>' in page
    assert current_nav_item(page) == "Messaging"


def test_the_messages_list_links_its_rows_with_where_they_came_from(staff, message):
    page = staff.get(reverse("messaging:messages")).content.decode()
    assert f'href="/messaging/messages/{message.pk}/?from=messages"' in page


# --- the From DID preselected ---------------------------------------------------------------------


def selected(page: str) -> str | None:
    """The From DID preselected (the page's other selects, such as Assign to, are not it)."""
    page = page[page.index('name="from_did"') :].split("</select>", 1)[0]
    if " selected>" not in page:
        return None
    return page.split(" selected>", 1)[0].rsplit('value="', 1)[1].split('"', 1)[0]


def test_the_admin_chosen_default_from_did_is_preselected(staff, dids):
    SendingDefaults.objects.create(pk=SendingDefaults.ROW, default_did=dids[MAIN_LINE])
    assert selected(staff.get(reverse("messaging:send")).content.decode()) == MAIN_LINE


def test_a_persons_own_default_from_did_wins_over_the_portals(staff, dids):
    SendingDefaults.objects.create(pk=SendingDefaults.ROW, default_did=dids[MAIN_LINE])
    SenderProfile.objects.create(user=User.objects.get(username="sam"), default_did=dids[SALES])
    assert selected(staff.get(reverse("messaging:send")).content.decode()) == SALES


def test_an_admin_picks_the_portal_default_in_admin(dids):
    admin = Client()
    root = make_user("root", superuser=True)
    root.is_staff = True
    root.save()
    admin.force_login(root)
    response = admin.post(
        "/admin/messaging/sendingdefaults/add/", {"default_did": dids[MAIN_LINE].pk}
    )
    assert response.status_code == 302
    assert SendingDefaults.default_number() == MAIN_LINE
    # One row only: nothing more to add.
    assert admin.get("/admin/messaging/sendingdefaults/add/").status_code == 403


# --- a reply to someone who opted out -------------------------------------------------------------


@pytest.fixture
def opted_out_of_inbound_line(dids) -> Conversation:
    inbound = Message.objects.create(
        message_sid="in-1",
        direction=Direction.INBOUND,
        our_number=INBOUND_LINE,
        their_number=CUSTOMER,
        body="STOP",
        status=Status.RECEIVED,
    )
    OptOut.objects.create(
        customer_number=CUSTOMER,
        our_number=INBOUND_LINE,
        keyword="STOP",
        changed_at=timezone.now(),
        message=inbound,
    )
    return Conversation.objects.create(
        customer_number=CUSTOMER,
        last_message=inbound,
        last_inbound_did=INBOUND_LINE,
        last_activity_at=timezone.now(),
    )


def test_a_reply_to_someone_who_opted_out_preselects_a_did_they_have_not_opted_out_of(
    staff, dids, opted_out_of_inbound_line
):
    SendingDefaults.objects.create(pk=SendingDefaults.ROW, default_did=dids[MAIN_LINE])
    page = staff.get(reverse("messaging:conversation", args=[CUSTOMER])).content.decode()
    assert selected(page) == MAIN_LINE


def test_with_no_allowed_did_to_suggest_the_reply_preselects_none_and_says_why(
    staff, opted_out_of_inbound_line
):
    page = staff.get(reverse("messaging:conversation", args=[CUSTOMER])).content.decode()
    assert '<option value="" selected>Pick a From DID</option>' in page
    assert "They opted out of +1 516-206-5318; pick a DID they have not opted out of." in page


# --- the raw JSON, and where the opt-out refusal appears ------------------------------------------


def test_emoji_in_a_callback_body_are_shown_as_utf8(staff, message):
    CarrierEvent.objects.create(
        body='{"message": "Hi \\ud83d\\udc4b", "status": "delivered"}',
        message_sid="sid-1",
        status="delivered",
        message=message,
    )
    page = staff.get(reverse("messaging:message", args=[message.pk])).content.decode()
    assert "Hi 👋" in page
    assert "\\ud83d" not in page


def test_the_opt_out_refusal_is_shown_once_next_to_the_to_did(staff):
    OptOut.objects.create(
        customer_number=CUSTOMER, our_number=MAIN_LINE, keyword="STOP", changed_at=timezone.now()
    )
    response = staff.post(
        reverse("messaging:send"),
        {"from_did": MAIN_LINE, "to_did": "+1 212-555-0142", "message": "Sale!"},
    )
    page = response.content.decode()
    assert page.count("Not sent:") == 1
    to_field = page.index('for="id_to_did"')
    assert to_field < page.index("Not sent:") < page.index('name="message"')
    assert not Message.objects.exists()
