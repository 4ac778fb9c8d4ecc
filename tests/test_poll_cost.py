"""The inbox's "nothing new" poll: an empty 204 for five cheap statements, with every rule still
read fresh on each request (a role taken away counts at once)."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from messaging.models import Message
from messaging.selectors.paging import new_cursor


def poll(client):
    return client.get("/messaging/inbox/", {"since": new_cursor()}, HTTP_HX_REQUEST="true")


def test_nothing_new_is_an_empty_204_for_five_statements(client, inbox_staff):
    client.force_login(inbox_staff)
    poll(client)  # a session's first request also reads the person's time zone into it
    with CaptureQueriesContext(connection) as captured:
        response = poll(client)
    assert response.status_code == 204 and response.content == b""
    sql = [q["sql"] for q in captured.captured_queries]
    tables = [s.split(" FROM ", 1)[1].split()[0].strip('"') if " FROM " in s else s for s in sql]
    # Session, user, their permissions (one statement), their DIDs, and the question itself.
    assert tables == [
        "django_session",
        "auth_user",
        "auth_permission",
        "messaging_senderprofile_allowed_dids",
        "messaging_conversation",
    ]


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
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, {"since": new_cursor()}, HTTP_HX_REQUEST="true")
    assert response.status_code == 204 and response.content == b""
    sql = [q["sql"] for q in captured.captured_queries]
    # Session, user, permissions, DIDs, and one probe: of the thread's messages and of its system
    # lines (assigned, done, reopened), through the conversation's unique number.
    assert len(sql) == 5
    probe = sql[-1]
    assert probe.startswith("SELECT 1 AS") and "messaging_message" in probe
    assert "messaging_conversationevent" in probe


def test_a_poll_still_sees_a_retry_note_that_changes_only_the_message(
    client, inbox_staff, webhook_url
):
    url = open_conversation(client, inbox_staff, webhook_url)
    cursor = new_cursor()
    Message.objects.update(error="Attempt 1 failed: refused. Retrying in 2 s.")
    response = client.get(url, {"since": cursor, "last": 0}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "Retrying in 2 s" in response.content.decode()


def test_a_poll_of_a_number_no_thread_can_have_is_a_404(client, inbox_staff):
    client.force_login(inbox_staff)
    response = client.get("/messaging/inbox/1" + "5" * 40 + "/", {"since": new_cursor()})
    assert response.status_code == 404
