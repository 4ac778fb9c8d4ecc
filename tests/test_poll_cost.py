"""The inbox's "nothing new" polls: an empty 204 after the session, the user and one statement that
asks the role (and the thread's, the DID limit) beside "anything new?" — with every rule still
read fresh on each request (a role taken away counts at once)."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from messaging.models import Message
from messaging.selectors.paging import new_cursor
from messaging.services import outbound


def poll(client):
    return client.get("/messaging/inbox/", {"since": new_cursor()}, HTTP_HX_REQUEST="true")


def poll_statements(client, url: str, **query) -> list[str]:
    """The SQL of one poll of `url` with a cursor of now, which must find nothing new."""
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, {"since": new_cursor(), **query}, HTTP_HX_REQUEST="true")
    assert response.status_code == 204 and response.content == b""
    return [q["sql"] for q in captured.captured_queries]


def first_table(sql: str) -> str:
    return sql.split(" FROM ", 1)[1].split()[0].strip('"')


DIDS = "messaging_senderprofile_allowed_dids"


def assert_asked_once(sql: list[str], *, dids_first: bool, tables: tuple[str, ...]) -> None:
    """The session and the user, as on any signed-in page; for a list, the person's DIDs (cheaper
    for PostgreSQL to plan on their own than inside the question); then one statement that
    reads the role beside the question itself (and, for a thread, the DIDs too)."""
    before = ["django_session", "auth_user"] + ([DIDS] if dids_first else [])
    assert [first_table(s) for s in sql[:-1]] == before
    question = sql[-1]
    for table in ("auth_permission", "auth_user_groups", *tables):
        assert table in question
    assert (DIDS in question) != dids_first


def test_nothing_new_is_an_empty_204_for_four_statements(client, inbox_staff):
    client.force_login(inbox_staff)
    poll(client)  # a session's first request also reads the person's time zone into it
    sql = poll_statements(client, "/messaging/inbox/")
    assert_asked_once(sql, dids_first=True, tables=("messaging_conversation",))


def test_the_notification_poll_with_nothing_new_is_four_statements_too(client, inbox_staff):
    client.force_login(inbox_staff)
    poll(client)
    sql = poll_statements(client, "/messaging/inbox/notify/")
    assert_asked_once(sql, dids_first=True, tables=("messaging_conversation",))


def test_a_poll_of_someone_limited_to_a_did_costs_no_statement_more(client, db):
    from django.contrib.auth.models import User

    from messaging.models import SenderProfile
    from phone_numbers.models import Did

    did = Did.objects.create(did_sid="d1", phonenumber="15162065575", name="Line 1")
    limited = User.objects.create_user("limited")
    limited.groups.add(Group.objects.get(name="Inbox staff"))
    SenderProfile.objects.create(user=limited).allowed_dids.add(did)
    client.force_login(limited)
    poll(client)
    for url in ("/messaging/inbox/", "/messaging/inbox/notify/"):
        sql = poll_statements(client, url)
        assert_asked_once(sql, dids_first=True, tables=("messaging_message",))
    sql = poll_statements(client, "/messaging/inbox/15162065319/")
    assert_asked_once(sql, dids_first=False, tables=("messaging_message",))


def test_a_role_taken_away_counts_on_the_very_next_poll(client, inbox_staff):
    client.force_login(inbox_staff)
    assert poll(client).status_code == 204
    inbox_staff.groups.remove(Group.objects.get(name="Inbox staff"))
    assert poll(client).status_code == 403


def test_a_permission_given_to_the_user_directly_counts_too(client, db):
    from django.contrib.auth.models import Permission, User

    user = User.objects.create_user("direct")
    user.user_permissions.add(Permission.objects.get(codename="view_inbox"))
    client.force_login(user)
    assert poll(client).status_code == 204
    assert user.has_perm("messaging.view_inbox")
    assert not User.objects.get(pk=user.pk).has_perm("messaging.send_message")


def open_conversation(client, staff, webhook_url) -> str:
    """A customer has texted us, and staff have the conversation open: its URL."""
    body = {"message_sid": "s1", "direction": "inbound", "from": "15162065319"}
    body |= {"to": "15162065575", "message": "Hi", "status": "received"}
    assert client.post(webhook_url, body, content_type="application/json").status_code == 200
    client.force_login(staff)
    url = "/messaging/inbox/15162065319/"
    assert client.get(url).status_code == 200
    return url


def test_a_conversation_poll_with_nothing_new_loads_no_conversation_or_thread(
    client, inbox_staff, webhook_url
):
    url = open_conversation(client, inbox_staff, webhook_url)
    # Older than the cursor's grace for clock skew.
    Message.objects.update(updated_at=timezone.now() - timedelta(minutes=5))
    sql = poll_statements(client, url)
    # Session, user, and one statement: the role, the DIDs, and one probe of the thread's
    # messages and of its system lines (assigned, done, reopened), through the conversation's
    # unique number; no conversation or thread is loaded.
    assert_asked_once(
        sql, dids_first=False, tables=("messaging_message", "messaging_conversationevent")
    )


def test_a_poll_still_sees_a_retry_note_that_changes_only_the_message(
    client, inbox_staff, webhook_url
):
    url = open_conversation(client, inbox_staff, webhook_url)
    cursor = new_cursor()
    # As the send path notes a retry (its own function): the message's error and updated_at.
    outbound._note(Message.objects.get().pk, "Attempt 1 failed: refused. Retrying in 2 s.")
    response = client.get(url, {"since": cursor, "last": 0}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "Retrying in 2 s" in response.content.decode()


def test_a_poll_of_a_number_no_thread_can_have_is_a_404(client, inbox_staff):
    client.force_login(inbox_staff)
    response = client.get("/messaging/inbox/1" + "5" * 40 + "/", {"since": new_cursor()})
    assert response.status_code == 404
