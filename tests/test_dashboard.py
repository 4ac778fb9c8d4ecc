"""The dashboard: per-day totals counted from the messages, charts and their CSVs read from them,
for the period and DIDs chosen, only for people who may read messages."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from dashboard.models import DayTotal, Rollup
from dashboard.rollup import rollup_recent, zone
from messaging.models import Direction, Message, SenderProfile
from phone_numbers.models import Did
from tests.conftest import make_user

MAIN, SALES = "15162065575", "15162065576"


@pytest.fixture
def dids(db):
    Did.objects.create(did_sid="d-main", phonenumber=MAIN, name="Main line")
    Did.objects.create(did_sid="d-sales", phonenumber=SALES, name="Sales")


def message(days_ago: int, **fields) -> Message:
    defaults = {
        "direction": Direction.OUTBOUND,
        "our_number": MAIN,
        "their_number": "12125550100",
        "body": "hi",
        "status": "delivered",
    }
    m = Message.objects.create(**{**defaults, **fields})
    when = timezone.now() - timedelta(days=days_ago)
    Message.objects.filter(pk=m.pk).update(created_at=when)
    return m


@pytest.fixture
def history(dids):
    for _ in range(3):
        message(0, price=Decimal("0.0075"), segments=1)
    message(0, status="failed", vendor_error_code="4001")
    message(1, status="failed", vendor_error_code="4002", our_number=SALES)
    message(1, direction=Direction.INBOUND, status="received", price=Decimal("0.0040"))
    message(40)  # outside 30 days
    rollup_recent()


def csv_rows(response) -> list[list[str]]:
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_the_recount_makes_one_total_per_day_did_direction_status_and_code(history):
    today = timezone.localtime(timezone.now(), zone()).date()
    delivered = DayTotal.objects.get(day=today, our_number=MAIN, status="delivered")
    assert (delivered.messages, delivered.segments, delivered.cost) == (3, 3, Decimal("0.0225"))
    landline = DayTotal.objects.get(day=today, status="failed")
    assert (landline.error_code, landline.messages) == ("4001", 1)
    # The first run counts every day there is, the 40-day-old message too.
    assert DayTotal.objects.filter(day=today - timedelta(days=40)).count() == 1
    assert Rollup.objects.get().days == 41


def test_recounting_again_changes_nothing_and_later_changes_are_counted(history):
    before = sorted(DayTotal.objects.values_list("day", "our_number", "status", "messages"))
    rollup_recent()
    assert sorted(DayTotal.objects.values_list("day", "our_number", "status", "messages")) == before
    Message.objects.filter(status="failed", vendor_error_code="4001").update(status="delivered")
    rollup_recent()
    today = timezone.localtime(timezone.now(), zone()).date()
    assert DayTotal.objects.get(day=today, our_number=MAIN, status="delivered").messages == 4


def test_the_page_shows_the_totals_and_every_chart_to_inbox_staff(client, inbox_staff, history):
    client.force_login(inbox_staff)
    page = client.get("/messaging/dashboard/").content.decode()
    for title in (
        "Messages per day",
        "Delivery rate per day",
        "Failures by reason",
        "Cost per day",
        "Cost per DID",
        "Replies per campaign",
    ):
        assert title in page
    assert "4001 · The number is a landline: it cannot receive texts." in page
    assert "Figures as of" in page


def test_each_charts_csv_holds_the_figures_the_chart_draws(client, inbox_staff, history):
    client.force_login(inbox_staff)
    per_day = csv_rows(client.get("/messaging/dashboard/?period=7&chart=per_day"))
    assert per_day[0] == ["day", "received", "sent"]
    assert len(per_day) == 1 + 7
    assert per_day[-1][1:] == ["0", "4"] and per_day[-2][1:] == ["1", "1"]
    failures = csv_rows(client.get("/messaging/dashboard/?chart=failures"))
    assert sorted(row[0] for row in failures[1:]) == ["4001", "4002"]
    cost = csv_rows(client.get("/messaging/dashboard/?chart=cost_by_did"))
    assert cost[1] == [MAIN, "0.02650"]
    delivery = csv_rows(client.get("/messaging/dashboard/?period=7&chart=delivery"))
    assert delivery[-1] == [delivery[-1][0], "3", "1", "0.7500"]


def test_choosing_a_did_limits_every_figure_to_it(client, inbox_staff, history):
    client.force_login(inbox_staff)
    failures = csv_rows(client.get(f"/messaging/dashboard/?did={SALES}&chart=failures"))
    assert [row[0] for row in failures[1:]] == ["4002"]


def test_a_person_limited_to_some_dids_sees_only_their_figures(client, history):
    limited = make_user("lena", "Inbox staff")
    profile = SenderProfile.objects.create(user=limited)
    profile.allowed_dids.add(Did.objects.get(phonenumber=SALES))
    client.force_login(limited)
    page = client.get("/messaging/dashboard/").content.decode()
    assert "Main line" not in page
    sent = csv_rows(client.get(f"/messaging/dashboard/?did={MAIN}&chart=per_day"))
    # Main line is not theirs: the choice is refused and their own DID's one text is all they see.
    assert sum(int(row[2]) for row in sent[1:]) == 1


def test_the_dashboard_is_refused_to_a_sender_without_the_inbox_role(client, sender, history):
    client.force_login(sender)
    assert client.get("/messaging/dashboard/").status_code == 403
    assert b"Dashboard" not in client.get("/messaging/").content


def test_an_unknown_chart_is_a_404_not_an_error(client, inbox_staff, history):
    client.force_login(inbox_staff)
    assert client.get("/messaging/dashboard/?chart=nope").status_code == 404


@hsettings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    params=st.lists(
        st.tuples(
            st.sampled_from(["period", "did", "chart", "x", "period[]"]),
            st.one_of(
                st.sampled_from(["7", "30", "90", "0", "-1", "1e9", MAIN, "per_day", "failures"]),
                st.text(max_size=40),
            ),
        ),
        max_size=6,
    )
)
def test_no_query_string_breaks_the_dashboard(client, inbox_staff, history, params):
    client.force_login(inbox_staff)
    response = client.get("/messaging/dashboard/", params)
    assert response.status_code in (200, 404)
    assert client.get("/messaging/dashboard/").status_code == 200


@pytest.mark.parametrize(
    ("largest", "whole", "top"),
    [
        (0, True, 4),
        (3, True, 4),
        (9, True, 12),
        (11, True, 20),
        (999, True, 1000),
        (0.03, False, 0.04),
    ],
)
def test_an_axis_top_is_four_round_steps_above_the_largest_value(largest, whole, top):
    from dashboard.charts import nice_ceiling

    assert nice_ceiling(largest, whole=whole) == pytest.approx(top)


def test_the_page_shows_new_figures_once_they_are_recounted_not_before(
    client, inbox_staff, history
):
    client.force_login(inbox_staff)
    url = "/messaging/dashboard/?period=7&chart=per_day"
    before = csv_rows(client.get(url))
    message(0)
    assert csv_rows(client.get(url)) == before  # kept until the next recount
    rollup_recent()
    after = csv_rows(client.get(url))
    assert int(after[-1][2]) == int(before[-1][2]) + 1
