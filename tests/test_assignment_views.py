"""The conversation's controls over HTTP: assign (to me, a teammate, nobody), done and reopen, for
Inbox staff only; a choice that cannot be made is refused with the reason, never a 5xx; seeded
fuzz of the three POSTs leaves the inbox and the conversation rendering."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from messaging.models import Conversation, ConversationEvent, Direction, Message, Status
from messaging.selectors.paging import parse_cursor
from messaging.services.carrier_events import conversation_add_message
from tests.conftest import make_user
from tests.fuzz_values import FORM, form_data, fuzz_settings, url_parts

CUSTOMER, OUR_DID = "15162065319", "15162065575"


@pytest.fixture
def convo(db) -> Conversation:
    message = Message.objects.create(
        direction=Direction.INBOUND,
        our_number=OUR_DID,
        their_number=CUSTOMER,
        body="Hello?",
        status=Status.RECEIVED,
    )
    conversation_add_message(message)
    return Conversation.objects.get()


@pytest.fixture
def ines(db):
    return make_user("ines", "Inbox staff")


@pytest.fixture
def alex(db):
    user = make_user("alex", "Inbox staff")
    user.first_name, user.last_name = "Alex", "Rivera"
    user.save()
    return user


@pytest.fixture
def as_ines(client, ines) -> Client:
    client.force_login(ines)
    return client


def url(action: str, customer: str = CUSTOMER) -> str:
    return f"/messaging/inbox/{customer}/{action}/"


def stored() -> Conversation:
    return Conversation.objects.select_related("assignee").get()


def test_assign_to_a_teammate_with_htmx_answers_the_controls_showing_them(as_ines, convo, alex):
    response = as_ines.post(url("assign"), {"assignee": alex.pk}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="conversation-state"' in html and "<html" not in html
    assert "Assigned to <strong>Alex Rivera</strong>" in html
    assert stored().assignee == alex
    event = ConversationEvent.objects.get()
    assert (event.kind, event.actor.username, event.assignee) == ("assigned", "ines", alex)


def test_assign_to_me_without_javascript_redirects_back_with_a_message(as_ines, convo, ines):
    response = as_ines.post(url("assign"), {"assignee": ines.pk}, follow=True)
    assert response.redirect_chain == [(f"/messaging/inbox/{CUSTOMER}/", 302)]
    assert "Assigned to you." in response.content.decode()
    assert stored().assignee == ines


def test_unassign_gives_it_to_nobody(as_ines, convo, alex, ines):
    as_ines.post(url("assign"), {"assignee": alex.pk})
    response = as_ines.post(url("assign"), {"assignee": ""}, follow=True)
    assert "Unassigned: nobody has this conversation now." in response.content.decode()
    assert stored().assignee is None
    assert list(ConversationEvent.objects.values_list("kind", flat=True)) == [
        "assigned",
        "unassigned",
    ]


def test_done_then_reopen(as_ines, convo):
    response = as_ines.post(url("done"), headers={"HX-Request": "true"})
    assert stored().state == "done"
    assert 'id="reopen-conversation"' in response.content.decode()
    response = as_ines.post(url("reopen"), follow=True)
    assert "Reopened." in response.content.decode()
    assert stored().state == "open"


@pytest.mark.parametrize(
    "value",
    ["999999", "abc", "-1", "1.5", str(2**64), "１", "\x00", "9" * 25],
)
def test_a_person_who_cannot_be_assigned_is_refused_with_the_reason(as_ines, convo, value):
    response = as_ines.post(url("assign"), {"assignee": value})
    assert response.status_code == 422
    assert "Not assigned: that person is not on the inbox team" in response.content.decode()
    assert stored().assignee is None and not ConversationEvent.objects.exists()


def test_someone_who_may_not_read_the_inbox_cannot_be_assigned(as_ines, convo, sender):
    response = as_ines.post(url("assign"), {"assignee": sender.pk}, headers={"HX-Request": "true"})
    # htmx swaps only successful answers: the refusal shows in the controls themselves.
    assert response.status_code == 200
    assert 'role="alert">Not assigned: that person is not on the inbox team' in (
        response.content.decode()
    )
    assert stored().assignee is None


def test_a_sender_without_inbox_staff_is_refused_with_403(client, convo, sender, ines):
    client.force_login(sender)
    for action, data in (("assign", {"assignee": ines.pk}), ("done", {}), ("reopen", {})):
        response = client.post(url(action), data)
        assert response.status_code == 403
        assert "Inbox staff" in response.content.decode()
    assert stored().assignee is None and stored().state == "open"


def test_signed_out_is_sent_to_sign_in(client, convo):
    response = client.post(url("done"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert stored().state == "open"


def test_get_is_not_allowed(as_ines, convo):
    assert as_ines.get(url("done")).status_code == 405


def test_a_conversation_the_person_cannot_see_is_a_404(client, convo):
    from messaging.models import SenderProfile
    from phone_numbers.models import Did

    limited = make_user("lim", "Inbox staff")
    other = Did.objects.create(did_sid="d2", phonenumber="15162069999", active_capabilities=31)
    SenderProfile.objects.create(user=limited).allowed_dids.add(other)
    client.force_login(limited)
    assert client.post(url("done")).status_code == 404
    assert client.post(url("done", "15162060000")).status_code == 404
    assert stored().state == "open"


def test_the_conversation_page_shows_the_controls_and_the_system_lines(as_ines, convo, alex):
    as_ines.post(url("assign"), {"assignee": alex.pk})
    as_ines.post(url("done"))
    html = as_ines.get(f"/messaging/inbox/{CUSTOMER}/").content.decode()
    assert 'id="conversation-state"' in html
    assert "ines assigned this to Alex Rivera" in html
    assert "ines marked this done" in html
    assert 'id="reopen-conversation"' in html


# --- fuzz ----------------------------------------------------------------------------------------


def _post(client: Client, path: str, body: str, htmx: bool):
    headers = {"HX-Request": "true"} if htmx else {}
    return client.generic("POST", path, body.encode("ascii"), content_type=FORM, headers=headers)


def test_the_three_controls_never_answer_5xx_and_the_pages_still_render(client, convo, alex, ines):
    root = make_user("root", superuser=True)
    client.force_login(root)

    @fuzz_settings()
    @given(
        action=st.sampled_from(["assign", "done", "reopen"]),
        customer=st.one_of(st.just(CUSTOMER), url_parts(CUSTOMER)),
        body=form_data({"assignee": str(alex.pk)}),
        htmx=st.booleans(),
    )
    def press(action, customer, body, htmx):
        response = _post(client, f"/messaging/inbox/{customer}/{action}/", body, htmx)
        assert response.status_code < 500, response.status_code

    press()
    assert stored().assignee in (None, alex, ines, root)
    for path in ("/messaging/inbox/", f"/messaging/inbox/{CUSTOMER}/"):
        for view in ("", "?view=mine", "?view=unassigned", "?view=done", "?view=%00"):
            response = client.get(path + view)
            assert response.status_code == 200, (path, view, response.status_code)


def test_a_poll_brings_a_new_system_line_and_the_controls_once(as_ines, convo, alex):
    from messaging.selectors.paging import new_cursor

    page = f"/messaging/inbox/{CUSTOMER}/"
    as_ines.get(page)
    # Older than the cursor's grace: the message itself is not sent again.
    Message.objects.update(updated_at=timezone.now() - timedelta(minutes=5))
    last = Message.objects.get().pk
    cursor = new_cursor()
    as_ines.post(url("assign"), {"assignee": alex.pk})  # as if from another tab
    poll = {"since": cursor, "last": last, "last_event": 0}
    response = as_ines.get(page, poll, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert response.status_code == 200
    assert 'class="conversation-state" aria-live="polite" hx-swap-oob="outerHTML"' in html
    assert "Assigned to <strong>Alex Rivera</strong>" in html
    assert "ines assigned this to Alex Rivera" in html
    event = ConversationEvent.objects.get()
    assert f"last_event={event.pk}" in html  # the next poll's cursor
    poll["last_event"] = event.pk
    assert as_ines.get(page, poll, headers={"HX-Request": "true"}).status_code == 204


def test_a_poll_that_loaded_the_conversation_before_a_change_still_shows_the_controls_after_it(
    rf, convo, ines, alex
):
    from messaging.selectors.paging import new_cursor
    from messaging.services.assignment import conversation_assign
    from messaging.views.assignment import thread_poll_lines

    cursor = new_cursor()
    loaded_by_the_poll = Conversation.objects.get()
    conversation_assign(conversation=convo, assignee=alex, actor=ines)  # meanwhile, elsewhere
    request = rf.get("/", {"last_event": "0"})
    request.user = ines
    lines, context = thread_poll_lines(request, loaded_by_the_poll, parse_cursor(cursor))
    assert [e.kind for e in lines] == ["assigned"]
    assert context["state_oob"] and context["conversation"].assignee == alex
