"""The dashboard in the browser: its charts are drawn, switching the period and the DID redraws
them in place (the address follows), and each chart's CSV holds the figures it draws."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from dashboard.rollup import rollup_recent
from messaging.models import Direction, Message
from phone_numbers.models import Did
from tests.browser.conftest import mark_page, screenshot, sign_in, still_same_page
from tests.conftest import make_user

pytestmark = pytest.mark.browser

MAIN, SALES = "15162065575", "15162065576"


@pytest.fixture
def history(transactional_db):
    Did.objects.create(did_sid="d-main", phonenumber=MAIN, name="Main line")
    Did.objects.create(did_sid="d-sales", phonenumber=SALES, name="Sales")
    now = timezone.now()
    rows = []
    for day in range(20):
        for n in range(day % 4 + 1):
            rows.append(
                Message(
                    direction=Direction.OUTBOUND,
                    our_number=MAIN if n % 2 else SALES,
                    their_number=f"1212555{day:02d}{n:02d}",
                    body="hi",
                    status="failed" if (day + n) % 5 == 0 else "delivered",
                    vendor_error_code="4001" if (day + n) % 5 == 0 else "",
                    price=Decimal("0.0075"),
                    segments=1,
                )
            )
    Message.objects.bulk_create(rows)
    for i, m in enumerate(Message.objects.order_by("id")):
        Message.objects.filter(pk=m.pk).update(created_at=now - timedelta(days=i % 20))
    rollup_recent()


def drawn(page, chart: str) -> list[str]:
    return page.locator(f'svg[data-chart="{chart}"] rect').evaluate_all(
        "rects => rects.map(r => r.dataset.value)"
    )


def csv_of(page, url: str) -> list[list[str]]:
    response = page.request.get(url)
    assert response.ok
    return list(csv.reader(io.StringIO(response.text())))


def test_charts_draw_and_follow_the_period_and_did_and_match_their_csv(page, history, live_server):
    sign_in(page, make_user("ines", "Inbox staff"), then="/messaging/dashboard/")
    expect(page.get_by_role("heading", name="Messages per day")).to_be_visible()
    per_day = drawn(page, "per_day")
    assert len(per_day) == 2 * 30  # received and sent, for each of 30 days
    assert any(float(v) > 0 for v in per_day)
    mark_page(page)

    page.get_by_label("Period").select_option("7")
    page.wait_for_url("**period=7**")
    expect(page.locator('svg[data-chart="per_day"] rect')).to_have_count(2 * 7)
    assert still_same_page(page)  # redrawn in place, not reloaded
    sent_drawn = drawn(page, "per_day")[1::2]
    rows = csv_of(page, "/messaging/dashboard/?period=7&chart=per_day")
    assert [r[2] for r in rows[1:]] == sent_drawn

    failures_before = page.locator("#chart-failures tbody tr").count()
    page.get_by_label("Sales").check()
    page.wait_for_url(f"**did={SALES}**")
    cost = csv_of(page, f"/messaging/dashboard/?period=7&did={SALES}&chart=cost_by_did")
    assert [r[0] for r in cost[1:]] == [SALES]
    expect(page.locator("#chart-cost_by_did tbody tr")).to_have_count(1)
    assert page.locator("#chart-failures tbody tr").count() <= max(failures_before, 1)
    screenshot(page, "dashboard.png")


@pytest.mark.parametrize("width", [390, 1280])
def test_the_dashboard_fits_the_screen(page, history, width):
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, make_user("ines", "Inbox staff"), then="/messaging/dashboard/")
    expect(page.get_by_role("heading", name="Cost per DID")).to_be_visible()
    page.screenshot(path=f"/tmp/dashboard-{width}.png", full_page=True)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
