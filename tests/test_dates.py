"""Times: one format on every page, in the signed-in user's time zone (their preference, else the
portal's TIME_ZONE) with the zone shown; relative within the last day, absolute beyond, and the
exact time on hover."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from messaging.models import Conversation, Direction, Message, OptOut
from phone_numbers.models import Did
from portal.models import UserPreferences
from portal.templatetags.portal_time import relative
from tests.conftest import make_user

pytestmark = pytest.mark.django_db
CUSTOMER = "15162065590"
OUR_DID = "15162065320"
SENT_AT = datetime(2026, 1, 15, 11, 56, 39, tzinfo=UTC)


@pytest.fixture
def message():
    sent = Message.objects.create(
        message_sid="out-1",
        direction=Direction.OUTBOUND,
        our_number=OUR_DID,
        their_number=CUSTOMER,
        body="Your order is on its way.",
        status="delivered",
    )
    Message.objects.filter(pk=sent.pk).update(created_at=SENT_AT)
    sent.refresh_from_db()
    Conversation.objects.create(
        customer_number=CUSTOMER, last_message=sent, last_activity_at=SENT_AT
    )
    return sent


@pytest.fixture
def staff(client):
    user = make_user("tess", "Senders", "Inbox staff")
    client.force_login(user)
    client.user = user
    return client


def pages(message) -> dict[str, str]:
    return {
        "send page": reverse("messaging:send"),
        "inbox": reverse("messaging:inbox"),
        "conversation": reverse("messaging:conversation", args=[CUSTOMER]),
        "messages list": reverse("messaging:messages"),
        "message page": reverse("messaging:message", args=[message.pk]),
    }


def shown_on(client, path: str, **headers) -> str:
    response = client.get(path, **headers)
    assert response.status_code in (200, 286), path  # 286: the fragment's last poll
    return response.content.decode()


def assert_every_page_shows(client, message, html: str) -> None:
    for name, path in pages(message).items():
        assert html in shown_on(client, path), f"{name} ({path}) does not show {html}"
    # The live fragment the send page polls renders the same way.
    assert html in shown_on(client, reverse("messaging:recent"), HTTP_HX_REQUEST="true")


def test_a_message_time_reads_the_same_on_every_page_in_the_users_zone(staff, message):
    UserPreferences.objects.create(user=staff.user, time_zone="America/New_York")
    assert_every_page_shows(
        staff,
        message,
        '<time datetime="2026-01-15T11:56:39+00:00" title="Jan 15, 2026, 06:56:39 EST">'
        "Jan 15, 2026, 06:56 EST</time>",
    )


def test_changing_the_time_zone_preference_changes_every_page(staff, message):
    UserPreferences.objects.create(user=staff.user, time_zone="America/New_York")
    assert "06:56 EST" in shown_on(staff, reverse("messaging:inbox"))
    response = staff.post(reverse("preferences"), {"time_zone": "Asia/Tokyo"}, follow=True)
    assert "Times now show in Asia/Tokyo (JST)." in response.content.decode()
    assert "selected>Asia/Tokyo</option>" in response.content.decode()
    assert_every_page_shows(
        staff,
        message,
        'title="Jan 15, 2026, 20:56:39 JST">Jan 15, 2026, 20:56 JST</time>',
    )
    assert UserPreferences.objects.get(user=staff.user).time_zone == "Asia/Tokyo"


def test_without_a_preference_times_are_in_the_portals_time_zone(staff, message, settings):
    settings.TIME_ZONE = "America/Chicago"
    assert_every_page_shows(staff, message, ">Jan 15, 2026, 05:56 CST</time>")
    page = shown_on(staff, reverse("preferences"))
    assert "selected>America/Chicago</option>" in page


def test_a_time_within_the_last_day_reads_relative_with_the_exact_time_on_hover(staff, message):
    UserPreferences.objects.create(user=staff.user, time_zone="Europe/Paris")
    moment = timezone.now() - timedelta(minutes=3, seconds=5)
    Message.objects.filter(pk=message.pk).update(created_at=moment)
    Conversation.objects.filter(customer_number=CUSTOMER).update(last_activity_at=moment)
    exact = timezone.localtime(moment, timezone=ZoneInfo("Europe/Paris"))
    assert_every_page_shows(
        staff,
        message,
        f'title="{exact:%b} {exact.day}, {exact:%Y, %H:%M:%S %Z}">3\u00a0min\u00a0ago</time>',
    )


def test_a_time_more_than_a_day_old_reads_absolute(staff, message):
    moment = timezone.now() - timedelta(hours=25)
    Message.objects.filter(pk=message.pk).update(created_at=moment)
    page = shown_on(staff, reverse("messaging:message", args=[message.pk]))
    assert "\u00a0ago</time>" not in page
    assert f"{timezone.localtime(moment):%H:%M %Z}</time>" in page


def test_hours_old_reads_in_hours(staff, message):
    Message.objects.filter(pk=message.pk).update(created_at=timezone.now() - timedelta(hours=5))
    assert ">5\u00a0h\u00a0ago</time>" in shown_on(
        staff, reverse("messaging:message", args=[message.pk])
    )


def test_a_moment_within_the_next_minute_reads_in_under_a_minute_not_just_now():
    now = timezone.now()
    assert relative(now + timedelta(seconds=40), now) == "in\u00a0under\u00a0a\u00a0minute"
    assert relative(now + timedelta(seconds=2), now) == "just\u00a0now"
    assert relative(now - timedelta(seconds=30), now) == "just\u00a0now"
    assert relative(now + timedelta(minutes=3), now) is None


def test_the_time_zone_is_read_from_the_database_once_per_session(staff, message):
    UserPreferences.objects.create(user=staff.user, time_zone="America/New_York")
    shown_on(staff, reverse("messaging:inbox"))
    with CaptureQueriesContext(connection) as queries:
        page = shown_on(staff, reverse("messaging:inbox"))
    assert "EST</time>" in page
    assert not [q for q in queries if "portal_userpreferences" in q["sql"]]


def test_an_unknown_time_zone_is_refused(staff):
    response = staff.post(reverse("preferences"), {"time_zone": "Mars/Olympus_Mons"})
    assert response.status_code == 422
    assert "Select a valid choice." in response.content.decode()
    assert not UserPreferences.objects.exists()


def test_the_preferences_page_is_linked_from_the_nav(staff):
    page = shown_on(staff, reverse("numbers:list"))
    assert f'<a href="{reverse("preferences")}">Preferences</a>' in page


def test_an_opt_out_refusal_names_the_day_in_the_users_zone(staff):
    Did.objects.create(did_sid="sid-320", phonenumber=OUR_DID, active_capabilities=7)
    UserPreferences.objects.create(user=staff.user, time_zone="Asia/Tokyo")
    # 20:30 UTC on Jan 15 is already Jan 16 in Tokyo.
    OptOut.objects.create(
        customer_number=CUSTOMER,
        our_number=OUR_DID,
        keyword="STOP",
        changed_at=datetime(2026, 1, 15, 20, 30, tzinfo=UTC),
    )
    response = staff.post(
        reverse("messaging:send"), {"from_did": OUR_DID, "to_did": CUSTOMER, "message": "Hi"}
    )
    assert response.status_code == 422
    assert "texted STOP on Jan 16, 2026" in response.content.decode()
