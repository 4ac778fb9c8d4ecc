"""The notify poll behind every signed-in tab, and the per-person choice of what notifies.

The poll answers an empty 204 under a kilobyte when nothing changed; otherwise the unread count,
a new cursor, and the new inbound texts the person's setting covers (Mine, or Mine and
Unassigned) among those they may read. Nobody can change another person's setting.
"""

from __future__ import annotations

import socket
from datetime import timedelta
from urllib.parse import quote, urlsplit

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from contacts.models import Contact
from messaging.models import Conversation, Direction, Message, SenderProfile, Status
from messaging.selectors.paging import new_cursor
from messaging.services.carrier_events import conversation_add_message
from phone_numbers.models import Did
from portal.models import UserPreferences
from tests.conftest import make_user
from tests.fuzz_values import FORM, form_data, fuzz_settings

NOTIFY = "/messaging/inbox/notify/"
DID_A, DID_B = "15162065575", "15162065320"
ANA, BEN = "15162065001", "15162065002"
NotifyOn = UserPreferences.NotifyOn


def text(body: str, *, customer: str = ANA, did: str = DID_A) -> Message:
    """An inbound text as the webhook stores it, with its conversation kept up."""
    message = Message.objects.create(
        body=body,
        our_number=did,
        their_number=customer,
        direction=Direction.INBOUND,
        status=Status.RECEIVED,
    )
    conversation_add_message(message)
    return message


def settled() -> None:
    """Everything so far happened minutes ago, outside the cursor's grace (paging.GRACE), where a
    poll no longer sends it again."""
    earlier = timezone.now() - timedelta(minutes=5)
    Message.objects.update(created_at=earlier, updated_at=earlier)
    Conversation.objects.update(updated_at=earlier)


def staff(username: str, notify_on: str | None = None, *, limit: list[str] | None = None):
    user = make_user(username, "Inbox staff")
    if notify_on is not None:
        UserPreferences.objects.create(user=user, notify_on=notify_on)
    if limit is not None:
        profile = SenderProfile.objects.create(user=user)
        profile.allowed_dids.set(Did.objects.filter(phonenumber__in=limit))
    return user


def poll(user, since: str | None) -> dict | None:
    """What `user`'s tab hears: the JSON, or None for the empty 204."""
    client = Client()
    client.force_login(user)
    response = client.get(NOTIFY, {} if since is None else {"since": since})
    if response.status_code == 204:
        assert response.content == b""
        return None
    assert response.status_code == 200, response.status_code
    return response.json()


def listed(user, since: str) -> list[str]:
    answer = poll(user, since)
    return [] if answer is None else [m["text"] for m in answer["messages"]]


@pytest.fixture
def dids(db) -> None:
    for number in (DID_A, DID_B):
        Did.objects.create(did_sid=f"sid-{number}", phonenumber=number, capabilities=7,
                           active_capabilities=7)  # fmt: skip


# --- the "nothing new" answer ---------------------------------------------------------------------


def raw_get(live_server, path: str, session: str) -> bytes:
    """Every byte the server sends for one GET, status line and headers included."""
    address = urlsplit(live_server.url)
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {address.netloc}\r\nAccept: application/json\r\n"
        f"Cookie: sessionid={session}\r\nConnection: close\r\n\r\n"
    )
    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
        sock.sendall(request.encode())
        received = b""
        while chunk := sock.recv(4096):
            received += chunk
    return received


def test_nothing_new_is_an_empty_204_under_a_kilobyte_on_the_wire(live_server, transactional_db):
    client = Client()
    client.force_login(staff("ines"))
    session = client.cookies["sessionid"].value
    path = f"{NOTIFY}?since={quote(new_cursor())}"
    raw_get(live_server, path, session)  # a session's first request also stores the time zone
    answer = raw_get(live_server, path, session)
    assert answer.startswith(b"HTTP/1.1 204"), answer[:200]
    head, _, body = answer.partition(b"\r\n\r\n")
    assert body == b""
    assert len(answer) <= 1024, f"{len(answer)} bytes:\n{head.decode()}"


def test_nothing_new_costs_one_probe_after_the_sign_in_checks(db):
    client = Client()
    client.force_login(staff("ines"))
    client.get(NOTIFY, {"since": new_cursor()})
    with CaptureQueriesContext(connection) as captured:
        response = client.get(NOTIFY, {"since": new_cursor()})
    assert response.status_code == 204
    sql = [q["sql"] for q in captured.captured_queries]
    # Session, user, their DIDs, and the one question (their role read in it): anything changed?
    assert len(sql) == 4, sql
    assert "auth_permission" in sql[-1] and "messaging_conversation" in sql[-1]


def test_a_text_from_before_the_cursor_is_not_news(db):
    text("old news")
    settled()
    assert poll(staff("ines"), new_cursor()) is None


# --- who hears about what -------------------------------------------------------------------------


def test_a_text_to_an_unassigned_conversation_notifies_mine_and_unassigned_but_not_mine(db):
    both = staff("ines", NotifyOn.MINE_AND_UNASSIGNED)
    mine = staff("mo", NotifyOn.MINE)
    default = staff("dee")  # never saved a choice: Mine and Unassigned
    cursor = new_cursor()
    text("Is my table for two still booked?")
    assert listed(both, cursor) == ["Is my table for two still booked?"]
    assert listed(default, cursor) == ["Is my table for two still booked?"]
    answer = poll(mine, cursor)
    assert answer["messages"] == [] and answer["unread"] == 1  # the title still counts it


def test_a_text_in_a_conversation_assigned_to_me_notifies_me_and_not_a_teammate(db):
    me = staff("mo", NotifyOn.MINE)
    teammate = staff("tia", NotifyOn.MINE_AND_UNASSIGNED)
    text("first")
    Conversation.objects.update(assignee=me)
    settled()
    cursor = new_cursor()
    text("second, to my conversation")
    assert listed(me, cursor) == ["second, to my conversation"]
    assert listed(teammate, cursor) == []


def test_none_notifies_of_nothing_but_still_counts_unread(db):
    quiet = staff("quinn", NotifyOn.NONE)
    cursor = new_cursor()
    text("hello", customer=ANA)
    text("hi there", customer=BEN)
    answer = poll(quiet, cursor)
    assert answer["messages"] == [] and answer["unread"] == 2


def test_a_done_conversation_notifies_nobody(db):
    text("thanks, all sorted")
    Conversation.objects.update(state=Conversation.State.DONE)
    settled()
    cursor = new_cursor()
    # A text to a done conversation as it is stored before anything reopens it.
    Message.objects.create(body="one more thing", our_number=DID_A, their_number=ANA,
                           direction=Direction.INBOUND, status=Status.RECEIVED)  # fmt: skip
    Conversation.objects.update(updated_at=Message.objects.latest("id").created_at)
    assert listed(staff("ines"), cursor) == []


def test_our_own_replies_notify_nobody(db):
    text("question")
    settled()
    cursor = new_cursor()
    reply = Message.objects.create(body="answer", our_number=DID_A, their_number=ANA,
                                   direction=Direction.OUTBOUND, status=Status.QUEUED)  # fmt: skip
    conversation_add_message(reply)
    assert listed(staff("ines"), cursor) == []


def test_a_did_limited_person_never_hears_of_texts_to_dids_they_may_not_read(dids):
    limited = staff("lim", limit=[DID_A])
    everyone = staff("all")
    cursor = new_cursor()
    text("to B only", customer=BEN, did=DID_B)
    # Nothing they may read changed: the empty answer, not even the count moves.
    assert poll(limited, cursor) is None
    assert listed(everyone, cursor) == ["to B only"]
    # A customer texting both DIDs: only the text to theirs.
    text("to A", customer=ANA, did=DID_A)
    text("to B, secret", customer=ANA, did=DID_B)
    assert listed(limited, cursor) == ["to A"]


def test_a_notice_names_the_contact_formats_the_number_cuts_the_text_and_links_the_thread(db):
    Contact.objects.create(number=ANA, name="Ana Silva")
    cursor = new_cursor()
    message = text("x" * 79 + "yz")
    text("no name on file", customer=BEN)
    answer = poll(staff("ines"), cursor)
    assert answer["messages"] == [
        {
            "id": message.pk,
            "sender": "Ana Silva (+1 516-206-5001)",
            "text": "x" * 79 + "y",
            "url": reverse("messaging:conversation", args=[ANA]),
        },
        {
            "id": Message.objects.get(their_number=BEN).pk,
            "sender": "+1 516-206-5002",
            "text": "no name on file",
            "url": reverse("messaging:conversation", args=[BEN]),
        },
    ]


def test_at_most_the_five_newest_texts_are_listed_oldest_first(db):
    cursor = new_cursor()
    for n in range(8):
        text(f"text {n}", customer=f"1516206{5100 + n}")
    assert listed(staff("ines"), cursor) == [f"text {n}" for n in range(3, 8)]


def test_the_unread_count_is_the_nav_badges(db):
    user = staff("ines")
    cursor = new_cursor()
    text("a", customer=ANA)
    text("b", customer=BEN)
    Conversation.objects.filter(customer_number=BEN).update(unread_count=0)
    client = Client()
    client.force_login(user)
    inbox = client.get(reverse("messaging:inbox")).content.decode()
    assert '<span class="badge unread">1<span class="visually-hidden"> unread</span>' in inbox
    assert poll(user, cursor)["unread"] == 1


@pytest.mark.parametrize(
    "since", [None, "", "yesterday", "2024-02-30T00:00:00", "9999-12-31T23:59:59-14:00"]
)
def test_a_missing_or_unreadable_cursor_is_a_fresh_start_with_nothing_to_notify(db, since):
    text("already here")
    settled()
    answer = poll(staff("ines"), since)
    assert answer["messages"] == [] and answer["unread"] == 1
    assert answer["cursor"] and listed(staff("ivy"), answer["cursor"]) == []


def test_only_people_who_may_read_the_inbox_may_poll(db):
    client = Client()
    assert client.get(NOTIFY).status_code == 302  # to the sign-in form
    client.force_login(make_user("sam", "Senders"))
    assert client.get(NOTIFY, {"since": new_cursor()}).status_code == 403


def test_signed_in_pages_load_the_poll_only_for_people_who_may_read_the_inbox(db):
    client = Client()
    client.force_login(staff("ines"))
    page = client.get(reverse("numbers:list")).content.decode()
    assert f'data-url="{NOTIFY}"' in page and "js/notifications.js" in page
    client.force_login(make_user("sam", "Senders"))
    page = client.get(reverse("numbers:list")).content.decode()
    assert "notify-poll" not in page and "js/notifications.js" not in page


def test_the_poll_never_answers_5xx_to_a_fuzzed_query_string(db):
    user = staff("ines")
    text("hello")
    client = Client()
    client.force_login(user)

    @fuzz_settings()
    @given(query=form_data({"since": new_cursor()}), htmx=st.booleans())
    def fuzz(query, htmx):
        headers = {"HX-Request": "true"} if htmx else {}
        response = client.get(f"{NOTIFY}?{query}", headers=headers)
        assert response.status_code < 500, response.status_code
        if response.status_code == 200:
            assert set(response.json()) == {"unread", "cursor", "messages"}

    fuzz()
    assert client.get(NOTIFY).status_code == 200
    assert client.get(reverse("messaging:inbox")).status_code == 200


# --- the setting ----------------------------------------------------------------------------------


def preferences_page(client) -> str:
    response = client.get(reverse("preferences"))
    assert response.status_code == 200
    return response.content.decode()


def test_the_preferences_page_saves_the_choice_and_says_what_it_means(db):
    user = staff("ines")
    client = Client()
    client.force_login(user)
    page = preferences_page(client)
    assert 'value="mine_unassigned" id="id_notify_on_2" checked' in page
    assert "Turn on desktop notifications" in page
    response = client.post(
        reverse("preferences"), {"time_zone": "UTC", "notify_on": "mine"}, follow=True
    )
    assert "Desktop notifications for new messages in conversations assigned to you." in (
        response.content.decode()
    )
    assert UserPreferences.objects.get(user=user).notify_on == NotifyOn.MINE
    assert 'value="mine" id="id_notify_on_1" checked' in preferences_page(client)


def test_a_post_naming_another_user_changes_only_my_own_choice(db):
    me = staff("ines")
    other = staff("otto", NotifyOn.MINE)
    client = Client()
    client.force_login(me)
    client.post(
        reverse("preferences"),
        {
            "time_zone": "UTC",
            "notify_on": "none",
            "user": other.pk,
            "user_id": other.pk,
            "id": UserPreferences.objects.get(user=other).pk,
            "pk": UserPreferences.objects.get(user=other).pk,
            "username": "otto",
        },
    )
    assert UserPreferences.objects.get(user=other).notify_on == NotifyOn.MINE
    assert UserPreferences.objects.get(user=other).time_zone == ""
    assert UserPreferences.objects.get(user=me).notify_on == NotifyOn.NONE


def test_saving_the_time_zone_alone_keeps_the_notification_choice(db):
    user = staff("ines", NotifyOn.NONE)
    client = Client()
    client.force_login(user)
    client.post(reverse("preferences"), {"time_zone": "Asia/Tokyo"})
    stored = UserPreferences.objects.get(user=user)
    assert (stored.time_zone, stored.notify_on) == ("Asia/Tokyo", NotifyOn.NONE)


def test_an_unknown_choice_is_refused_next_to_the_field(db):
    user = staff("ines")
    client = Client()
    client.force_login(user)
    response = client.post(reverse("preferences"), {"time_zone": "UTC", "notify_on": "all"})
    assert response.status_code == 422
    assert "Select a valid choice. all is not one of the available choices." in (
        response.content.decode()
    )
    assert not UserPreferences.objects.exists()


def test_people_who_cannot_read_the_inbox_have_no_notification_choice(db):
    sender = make_user("sam", "Senders")
    client = Client()
    client.force_login(sender)
    assert "notify_on" not in preferences_page(client)
    client.post(reverse("preferences"), {"time_zone": "UTC", "notify_on": "none"})
    assert UserPreferences.objects.get(user=sender).notify_on == NotifyOn.MINE_AND_UNASSIGNED


def test_the_preferences_form_never_answers_5xx_and_stores_only_known_choices(db):
    user = staff("ines")
    other = staff("otto", NotifyOn.MINE)
    client = Client()
    client.force_login(user)
    base = {"time_zone": "America/New_York", "notify_on": "mine", "user": str(other.pk)}

    @fuzz_settings()
    @given(body=form_data(base))
    def fuzz(body):
        response = client.generic("POST", reverse("preferences"), body.encode("ascii"),
                                  content_type=FORM)  # fmt: skip
        assert response.status_code < 500, response.status_code

    fuzz()
    preferences_page(client)
    assert client.get(reverse("messaging:inbox")).status_code == 200
    assert client.get(NOTIFY).status_code == 200
    assert set(UserPreferences.objects.values_list("notify_on", flat=True)) <= set(NotifyOn.values)
    assert UserPreferences.objects.get(user=other).notify_on == NotifyOn.MINE
