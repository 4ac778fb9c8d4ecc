"""The inbox: conversations by customer, unread counts, live polling with a cursor, replies."""

from __future__ import annotations

import html
import json
import re
from datetime import timedelta
from urllib.parse import unquote

import pytest
from django.urls import reverse
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from messaging.models import Conversation, Message
from messaging.views.inbox import url_maker
from tests.conftest import load_fixture, make_user
from tests.fuzz_values import fuzz_settings

pytestmark = pytest.mark.django_db
CUSTOMER = "15162065319"
OUR_DID = "15162065318"


@pytest.fixture
def staff(client):
    client.force_login(make_user("ines", "Inbox staff"))
    return client


def inbound(webhook_client, webhook_url, *, sid, text="Hi there", customer=CUSTOMER, did=OUR_DID):
    payload = load_fixture("inbound_legacy")
    payload.update(message_sid=sid, message=text, from_did=customer, to_did=did)
    response = webhook_client.post(
        webhook_url, json.dumps(payload), content_type="application/json"
    )
    assert response.status_code == 200
    return Message.objects.get(message_sid=sid)


@pytest.fixture
def webhook_client():
    from django.test import Client

    return Client()


def test_an_inbound_text_opens_a_conversation_with_one_unread(staff, webhook_client, webhook_url):
    inbound(webhook_client, webhook_url, sid="a", text="Is my order ready?")
    page = staff.get(reverse("messaging:inbox")).content.decode()
    assert "+1 516-206-5319" in page
    assert "Is my order ready?" in page
    assert Conversation.objects.get(customer_number=CUSTOMER).unread_count == 1
    listing = page[page.index('id="conversation-list"') :]  # not the nav's badge
    assert '<span class="badge unread">1<span class="visually-hidden"> unread</span>' in listing


def test_opening_a_conversation_marks_it_read_and_shows_the_thread_in_order(
    staff, webhook_client, webhook_url
):
    inbound(webhook_client, webhook_url, sid="a", text="first")
    inbound(webhook_client, webhook_url, sid="b", text="second")
    page = staff.get(reverse("messaging:conversation", args=[CUSTOMER])).content.decode()
    thread = page[page.index('id="thread-rows"') :]
    assert thread.index("first") < thread.index("second")
    assert Conversation.objects.get(customer_number=CUSTOMER).unread_count == 0


def test_conversations_are_newest_activity_first_across_our_dids(
    staff, webhook_client, webhook_url
):
    inbound(webhook_client, webhook_url, sid="a", customer="15162065001", did="15162065318")
    inbound(webhook_client, webhook_url, sid="b", customer="15162065002", did="15162065575")
    inbound(webhook_client, webhook_url, sid="c", customer="15162065001", did="15162065575")
    page = staff.get(reverse("messaging:inbox")).content.decode()
    assert page.index("conversation-15162065001") < page.index("conversation-15162065002")
    assert Conversation.objects.count() == 2


def test_a_poll_with_nothing_new_is_an_empty_204(staff, webhook_client, webhook_url):
    inbound(webhook_client, webhook_url, sid="a")
    since = (timezone.now() + timedelta(seconds=1)).isoformat()
    response = staff.get(reverse("messaging:inbox"), {"since": since}, HTTP_HX_REQUEST="true")
    assert response.status_code == 204
    assert response.content == b""


def test_a_poll_after_a_new_message_returns_only_the_list_fragment_with_it(
    staff, webhook_client, webhook_url
):
    since = timezone.now().isoformat()
    inbound(webhook_client, webhook_url, sid="a", text="Just arrived")
    response = staff.get(reverse("messaging:inbox"), {"since": since}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200
    assert "Just arrived" in body
    assert "<html" not in body
    assert 'id="conversation-list"' in body


def test_a_conversation_poll_appends_new_messages_and_replaces_changed_ones(
    staff, webhook_client, webhook_url
):
    first = inbound(webhook_client, webhook_url, sid="a", text="first")
    since = timezone.now().isoformat()
    inbound(webhook_client, webhook_url, sid="b", text="second")
    Message.objects.filter(pk=first.pk).update(status="received", updated_at=timezone.now())
    response = staff.get(
        reverse("messaging:conversation", args=[CUSTOMER]),
        {"since": since, "last": first.pk},
        HTTP_HX_REQUEST="true",
    )
    body = response.content.decode()
    assert f'id="message-{first.pk}" class="bubble inbound" hx-swap-oob="outerHTML"' in body
    assert 'hx-swap-oob="beforeend:#thread-rows"' in body
    assert body.index("beforeend:#thread-rows") < body.index("second")


def test_conversations_page_by_keyset_without_overlap(staff, webhook_client, webhook_url):
    for i in range(30):
        inbound(webhook_client, webhook_url, sid=f"s{i}", customer=f"1516206{5100 + i}")
    first = staff.get(reverse("messaging:inbox"))
    rows_first = [c.customer_number for c in first.context["conversations"]]
    assert len(rows_first) == 25
    older = staff.get(reverse("messaging:inbox"), {"before": first.context["next_before"]})
    rows_older = [c.customer_number for c in older.context["conversations"]]
    assert len(rows_older) == 5
    assert not set(rows_first) & set(rows_older)
    assert older.context["next_before"] == ""


def test_a_poll_shows_every_conversation_that_moved_since_the_tab_looked_even_past_one_page(
    staff, webhook_client, webhook_url
):
    for i in range(5):
        inbound(webhook_client, webhook_url, sid=f"old{i}", customer=f"1516206{5000 + i}")
    since = timezone.now().isoformat()
    for i in range(32):
        inbound(webhook_client, webhook_url, sid=f"s{i}", customer=f"1516206{5100 + i}")
    poll = staff.get(reverse("messaging:inbox"), {"since": since}, HTTP_HX_REQUEST="true")
    body = poll.content.decode()
    shown = re.findall(r'<li id="conversation-(\d+)"', body)
    assert shown == [f"1516206{5100 + i}" for i in reversed(range(32))]
    for message in Message.objects.filter(their_number__startswith="151620651"):
        assert f'data-announce-key="{message.pk}"' in body
    # What did not move stays one "Load more" away, without overlap.
    next_before = html.unescape(re.search(r'before=([^"&]+)', body).group(1))
    older = staff.get(reverse("messaging:inbox"), {"before": unquote(next_before)})
    assert [c.customer_number for c in older.context["conversations"]] == [
        f"1516206{5000 + i}" for i in reversed(range(5))
    ]
    # A page load, as opposed to a poll, is one page.
    assert len(staff.get(reverse("messaging:inbox")).context["conversations"]) == 25


def test_search_finds_conversations_by_number_and_by_text(staff, webhook_client, webhook_url):
    inbound(webhook_client, webhook_url, sid="a", customer="15162065001", text="refund please")
    inbound(webhook_client, webhook_url, sid="b", customer="15162065002", text="thanks")
    by_number = staff.get(reverse("messaging:inbox"), {"q": "(516) 206-5002"})
    assert [c.customer_number for c in by_number.context["conversations"]] == ["15162065002"]
    by_text = staff.get(reverse("messaging:inbox"), {"q": "REFUND"})
    assert [c.customer_number for c in by_text.context["conversations"]] == ["15162065001"]


def test_a_message_opens_its_callback_timeline_with_the_raw_json(
    staff, webhook_client, webhook_url
):
    message = inbound(webhook_client, webhook_url, sid="a")
    page = staff.get(reverse("messaging:message", args=[message.pk])).content.decode()
    assert "&quot;from_did&quot;: &quot;15162065319&quot;" in page
    assert "new inbound message" in page


def test_the_reply_box_defaults_to_the_did_the_customer_last_wrote_to(
    staff, webhook_client, webhook_url
):
    from phone_numbers.models import Did

    for n in ("15162065318", "15162065575"):
        Did.objects.create(did_sid=n, phonenumber=n, active_capabilities=7, capabilities=7)
    inbound(webhook_client, webhook_url, sid="a", did="15162065318")
    inbound(webhook_client, webhook_url, sid="b", did="15162065575")
    response = staff.get(reverse("messaging:conversation", args=[CUSTOMER]))
    assert response.context["form"].initial["from_did"] == "15162065575"
    assert '<option value="15162065575" selected>' in response.content.decode()


def test_people_without_the_inbox_role_get_403(client, webhook_client, webhook_url):
    inbound(webhook_client, webhook_url, sid="a")
    client.force_login(make_user("sam", "Senders"))
    assert client.get(reverse("messaging:inbox")).status_code == 403
    assert client.get(reverse("messaging:conversation", args=[CUSTOMER])).status_code == 403
    reply = client.post(reverse("messaging:reply", args=[CUSTOMER]), {"message": "x"})
    assert reply.status_code == 403
    assert Message.objects.count() == 1


def test_the_inbox_finds_a_conversation_by_its_contacts_name_or_tag_and_shows_the_tags(
    staff, webhook_client, webhook_url
):
    from contacts.models import Contact, ContactTag

    inbound(webhook_client, webhook_url, sid="a", text="Where is my parcel?")
    inbound(webhook_client, webhook_url, sid="b", text="Hello", customer="15162065001")
    dana = Contact.objects.create(number=CUSTOMER, name="Dana Whitfield", company="Acme")
    ContactTag.objects.create(contact=dana, name="vip")
    for query in ("whitfield", "acme", "vip"):
        page = staff.get(reverse("messaging:inbox"), {"q": query}).content.decode()
        assert f'id="conversation-{CUSTOMER}"' in page, query
        assert 'id="conversation-15162065001"' not in page, query
    listing = staff.get(reverse("messaging:inbox")).content.decode()
    row = listing[listing.index(f'id="conversation-{CUSTOMER}"') :].split("</li>")[0]
    assert "Dana Whitfield" in row
    assert '<span class="visually-hidden">Tag: </span>vip</span>' in row


@fuzz_settings()
@given(customer=st.text(min_size=1).filter(lambda text: "/" not in text), pk=st.integers(0))
def test_the_links_built_once_a_page_are_what_reverse_answers(customer, pk):
    assert url_maker("messaging:conversation")(customer) == reverse(
        "messaging:conversation", args=[customer]
    )
    assert url_maker("messaging:message")(pk) == reverse("messaging:message", args=[pk])
