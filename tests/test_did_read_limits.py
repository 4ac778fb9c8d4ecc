"""Per-user DID limits apply to reading: a person limited to some DIDs sees only their messages on
every page, fragment and export; a person with no limit sees everything. Replies go only to
customers the carrier can text."""

from __future__ import annotations

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from messaging.models import Conversation, Direction, Message, SenderProfile, Status
from messaging.services.carrier_events import conversation_add_message
from phone_numbers.models import Did
from tests.conftest import make_user

pytestmark = pytest.mark.django_db
DID_A, DID_B = "15162065575", "15162065320"
ALICE, BOB, CAROL = "15162065001", "15162065002", "15162065003"  # A only, B only, both
JUNK = "javascript:alert(1)"


def text(body: str, *, did: str, customer: str, inbound: bool = True) -> Message:
    """A message as the webhook or the send path stores it, with its conversation kept up."""
    message = Message.objects.create(
        body=body,
        our_number=did,
        their_number=customer,
        direction=Direction.INBOUND if inbound else Direction.OUTBOUND,
        status=Status.RECEIVED if inbound else Status.DELIVERED,
    )
    conversation_add_message(message)
    return message


@pytest.fixture
def world(db) -> dict[str, Message]:
    for number in (DID_A, DID_B):
        Did.objects.create(did_sid=f"sid-{number}", phonenumber=number, capabilities=7,
                           active_capabilities=7)  # fmt: skip
    return {
        "alice_in": text("alice-on-A asks", did=DID_A, customer=ALICE),
        "alice_out": text("A-sent to alice", did=DID_A, customer=ALICE, inbound=False),
        "bob_in": text("bob-on-B asks", did=DID_B, customer=BOB),
        "bob_out": text("B-sent to bob", did=DID_B, customer=BOB, inbound=False),
        "carol_a": text("carol-on-A hello", did=DID_A, customer=CAROL),
        "carol_b": text("carol-on-B secret", did=DID_B, customer=CAROL),
    }


def _client(client, username: str, *, limit: list[str] | None):
    user = make_user(username, "Senders", "Inbox staff")
    if limit is not None:
        profile = SenderProfile.objects.create(user=user)
        profile.allowed_dids.set(Did.objects.filter(phonenumber__in=limit))
    client.force_login(user)
    return client


@pytest.fixture
def limited(client, world):
    return _client(client, "lim", limit=[DID_A])


@pytest.fixture
def unlimited(client, world):
    return _client(client, "all", limit=None)


def page(client, url: str, **kwargs) -> str:
    response = client.get(url, **kwargs)
    # 286: htmx's "stop polling" (every recent send is final), with the rows still in the body.
    assert response.status_code in (200, 286), (url, response.status_code)
    return response.content.decode()


def test_the_messaging_page_shows_a_limited_sender_only_recent_sends_from_their_dids(limited):
    for url in (reverse("messaging:send"), reverse("messaging:recent")):
        shown = page(limited, url)
        assert "A-sent to alice" in shown
        assert "B-sent to bob" not in shown


def test_the_inbox_lists_only_customers_with_messages_on_the_users_dids(limited):
    shown = page(limited, reverse("messaging:inbox"))
    assert "conversation-" + ALICE in shown
    assert "conversation-" + CAROL in shown
    assert "conversation-" + BOB not in shown
    # Carol's newest message went to B: the row shows her newest one on A instead.
    assert "carol-on-A hello" in shown
    assert "carol-on-B secret" not in shown
    assert "bob-on-B asks" not in shown


def test_unread_counts_and_the_nav_badge_count_only_texts_to_the_users_dids(limited):
    text("bob again on B", did=DID_B, customer=BOB)
    assert Conversation.objects.get(customer_number=CAROL).unread_count == 2
    response = limited.get(reverse("messaging:inbox"))
    shown = response.content.decode()
    carol_row = shown[shown.index("conversation-" + CAROL) :].split("</li>")[0]
    assert '<span class="badge unread">1<' in carol_row  # her text to A, not the one to B
    # Alice's unread text to A counts; Carol last wrote to B and Bob is not theirs.
    assert response.context["unread_conversations"] == 1


def test_a_conversation_with_no_message_on_the_users_dids_is_a_404(limited):
    assert limited.get(reverse("messaging:conversation", args=[BOB])).status_code == 404
    reply = limited.post(
        reverse("messaging:reply", args=[BOB]), {"from_did": DID_A, "message": "hi"}
    )
    assert reply.status_code == 404
    assert not Message.objects.filter(body="hi").exists()


def test_a_shared_conversation_shows_only_the_users_messages_and_keeps_others_unread(limited):
    shown = page(limited, reverse("messaging:conversation", args=[CAROL]))
    assert "carol-on-A hello" in shown
    assert "carol-on-B secret" not in shown
    # The text to B is still unread for the people who read B.
    assert Conversation.objects.get(customer_number=CAROL).unread_count == 2


def test_a_message_on_another_did_is_a_404(limited, world):
    assert limited.get(reverse("messaging:message", args=[world["bob_in"].pk])).status_code == 404
    assert limited.get(reverse("messaging:message", args=[world["carol_b"].pk])).status_code == 404
    assert "alice-on-A asks" in page(
        limited, reverse("messaging:message", args=[world["alice_in"].pk])
    )


def test_the_live_polls_never_bring_other_dids_messages(limited, world):
    long_ago = (timezone.now() - timezone.timedelta(days=1)).isoformat()
    text("bob news on B", did=DID_B, customer=BOB)
    text("carol news on B", did=DID_B, customer=CAROL)
    inbox_poll = limited.get(
        reverse("messaging:inbox"), {"since": long_ago}, HTTP_HX_REQUEST="true"
    )
    assert inbox_poll.status_code == 200
    assert "conversation-" + BOB not in inbox_poll.content.decode()
    assert "news on B" not in inbox_poll.content.decode()
    thread_poll = limited.get(
        reverse("messaging:conversation", args=[CAROL]), {"since": long_ago, "last": "0"}
    )
    polled = thread_poll.content.decode()
    assert "carol-on-A hello" in polled
    assert "carol news on B" not in polled
    assert "carol-on-B secret" not in polled


def test_a_thread_poll_says_nothing_new_when_only_another_dids_message_changed(limited, world):
    since = timezone.now().isoformat()
    url = reverse("messaging:conversation", args=[CAROL])
    limited.get(url, {"since": since, "last": "0"})  # a first request reads more (the session's)
    with CaptureQueriesContext(connection) as quiet:
        assert limited.get(url, {"since": since, "last": "0"}).status_code == 204
    Message.objects.filter(pk=world["carol_b"].pk).update(
        status=Status.FAILED, updated_at=timezone.now() + timezone.timedelta(minutes=1)
    )
    with CaptureQueriesContext(connection) as polled:
        assert limited.get(url, {"since": since, "last": "0"}).status_code == 204
    # The probe itself says nothing changed: the thread is not loaded to find that out.
    assert len(polled) == len(quiet)
    Message.objects.filter(pk=world["carol_a"].pk).update(
        body="carol-on-A edited", updated_at=timezone.now() + timezone.timedelta(minutes=1)
    )
    polled = limited.get(url, {"since": since, "last": "0"})
    assert polled.status_code == 200 and "carol-on-A edited" in polled.content.decode()


def test_a_list_poll_says_nothing_new_when_only_a_conversation_on_another_did_changed(
    limited, world
):
    since = timezone.now().isoformat()
    url = reverse("messaging:inbox")
    later = timezone.now() + timezone.timedelta(minutes=1)
    Conversation.objects.filter(customer_number=BOB).update(updated_at=later)
    assert limited.get(url, {"since": since}, HTTP_HX_REQUEST="true").status_code == 204
    Conversation.objects.filter(customer_number=ALICE).update(updated_at=later)
    polled = limited.get(url, {"since": since}, HTTP_HX_REQUEST="true")
    assert polled.status_code == 200 and "conversation-" + ALICE in polled.content.decode()


def test_inbox_search_by_text_finds_only_text_the_user_may_read(limited):
    found = page(limited, reverse("messaging:inbox"), data={"q": "secret"})
    assert "conversation-" + CAROL not in found
    assert "conversation-" + CAROL in page(limited, reverse("messaging:inbox"), data={"q": "hello"})


def test_the_messages_list_and_its_export_contain_only_the_users_dids(limited):
    listed = page(limited, reverse("messaging:messages"))
    assert "alice-on-A asks" in listed
    assert "carol-on-A hello" in listed
    assert "bob-on-B asks" not in listed
    assert "carol-on-B secret" not in listed
    assert "bob-on-B asks" not in page(limited, reverse("messaging:messages"), data={"text": "bob"})

    export = limited.get(reverse("messaging:messages_export"))
    rows = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert {row["our_did"] for row in rows} == {DID_A}
    assert len(rows) == 3


def test_asking_the_messages_list_for_another_did_is_a_form_error_with_no_rows(limited):
    response = limited.get(reverse("messaging:messages"), {"our_did": DID_B})
    assert response.status_code == 200
    assert response.context["rows"] == []
    assert "our_did" in response.context["form"].errors
    assert limited.get(reverse("messaging:messages_export"), {"our_did": DID_B}).status_code == 400


def test_a_user_without_a_limit_sees_both_dids_everywhere(unlimited, world):
    assert "B-sent to bob" in page(unlimited, reverse("messaging:send"))
    inbox = page(unlimited, reverse("messaging:inbox"))
    assert "conversation-" + BOB in inbox
    assert "carol-on-B secret" in inbox
    assert "carol-on-B secret" in page(unlimited, reverse("messaging:conversation", args=[CAROL]))
    assert "bob-on-B asks" in page(unlimited, reverse("messaging:messages"))
    page(unlimited, reverse("messaging:message", args=[world["bob_in"].pk]))
    export = unlimited.get(reverse("messaging:messages_export"))
    rows = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert {row["our_did"] for row in rows} == {DID_A, DID_B}


def test_a_reply_to_a_customer_that_is_not_a_phone_number_is_refused_and_nothing_is_queued(
    unlimited, django_capture_on_commit_callbacks
):
    # A conversation an earlier version stored from an unvalidated callback.
    text("junk", did=DID_A, customer=JUNK)
    messages, tasks = Message.objects.count(), DBTaskResult.objects.count()
    url = reverse("messaging:reply", args=[JUNK])
    with django_capture_on_commit_callbacks(execute=True):
        refused = unlimited.post(url, {"from_did": DID_A, "message": "hi"})
        refused_htmx = unlimited.post(
            url, {"from_did": DID_A, "message": "hi"}, HTTP_HX_REQUEST="true"
        )
    assert refused.status_code == 422
    assert "is not a phone number or short code" in refused.content.decode()
    assert "is not a phone number or short code" in refused_htmx.content.decode()
    assert (Message.objects.count(), DBTaskResult.objects.count()) == (messages, tasks)


def test_a_reply_to_a_customer_with_no_conversation_is_a_404_and_nothing_is_queued(unlimited):
    messages = Message.objects.count()
    for customer in ("15162069999", "javascript:alert(2)", "1" * 400):
        url = reverse("messaging:reply", args=[customer])
        assert unlimited.post(url, {"from_did": DID_A, "message": "hi"}).status_code == 404
    assert Message.objects.count() == messages


def test_a_valid_reply_from_an_allowed_did_is_stored_and_queued(
    limited, django_capture_on_commit_callbacks
):
    tasks = DBTaskResult.objects.count()
    url = reverse("messaging:reply", args=[CAROL])
    with django_capture_on_commit_callbacks(execute=True):
        refused = limited.post(url, {"from_did": DID_B, "message": "from B"})
        sent = limited.post(url, {"from_did": DID_A, "message": "from A"})
    assert refused.status_code == 422
    assert sent.status_code == 302
    assert list(Message.objects.filter(body__startswith="from ").values_list("our_number")) == [
        (DID_A,)
    ]
    assert DBTaskResult.objects.count() == tasks + 1
