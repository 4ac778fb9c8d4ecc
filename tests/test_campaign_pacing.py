"""Pace and quiet hours (campaigns/pacing.py): when a recipient in their own night may be texted
again, across midnight and the clock changes; and send times from a DID's shared pace row."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from campaigns.dispatch import Lane
from campaigns.models import DidPace
from campaigns.pacing import quiet_until, slots_reserve

NEW_YORK = ZoneInfo("America/New_York")
NY_NUMBER = "12125550142"  # Manhattan: America/New_York
TOKYO_NUMBER = "81312345678"  # Asia/Tokyo, no clock changes
TOLL_FREE = "18005550100"  # no place: phonenumbers lists every North American zone
NIGHT = {"start": time(21, 0), "end": time(8, 0)}


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NEW_YORK)


def test_late_evening_waits_for_the_next_morning():
    assert quiet_until(NY_NUMBER, **NIGHT, now=ny(2026, 1, 15, 23, 30)) == ny(2026, 1, 16, 8, 0)


def test_after_midnight_waits_for_the_same_mornings_end_of_quiet_hours():
    assert quiet_until(NY_NUMBER, **NIGHT, now=ny(2026, 1, 16, 2, 0)) == ny(2026, 1, 16, 8, 0)


@pytest.mark.parametrize(
    "clock", [time(8, 0), time(12, 0), time(20, 59, 59)], ids=["at 08:00", "noon", "20:59:59"]
)
def test_daytime_is_not_held(clock):
    now = datetime.combine(datetime(2026, 1, 15).date(), clock, tzinfo=NEW_YORK)
    assert quiet_until(NY_NUMBER, **NIGHT, now=now) is None


def test_quiet_hours_start_at_their_first_second():
    assert quiet_until(NY_NUMBER, **NIGHT, now=ny(2026, 1, 15, 21, 0)) == ny(2026, 1, 16, 8, 0)


def test_quiet_hours_within_one_day_hold_only_inside_them():
    lunch = {"start": time(12, 0), "end": time(13, 0)}
    assert quiet_until(NY_NUMBER, **lunch, now=ny(2026, 1, 15, 12, 30)) == ny(2026, 1, 15, 13, 0)
    assert quiet_until(NY_NUMBER, **lunch, now=ny(2026, 1, 15, 13, 0)) is None
    assert quiet_until(NY_NUMBER, **lunch, now=ny(2026, 1, 15, 11, 59)) is None


def test_the_night_the_clocks_go_forward_is_an_hour_shorter():
    # 8 March 2026, 02:00 EST → 03:00 EDT. 23:00 EST is 04:00 UTC; 08:00 EDT is 12:00 UTC.
    now = ny(2026, 3, 7, 23, 0)
    wait = quiet_until(NY_NUMBER, **NIGHT, now=now)
    assert wait.astimezone(UTC) == datetime(2026, 3, 8, 12, 0, tzinfo=UTC)
    assert wait.astimezone(UTC) - now.astimezone(UTC) == timedelta(hours=8)


def test_the_night_the_clocks_go_back_is_an_hour_longer():
    # 1 November 2026, 02:00 EDT → 01:00 EST. 23:00 EDT is 03:00 UTC; 08:00 EST is 13:00 UTC.
    now = ny(2026, 10, 31, 23, 0)
    wait = quiet_until(NY_NUMBER, **NIGHT, now=now)
    assert wait.astimezone(UTC) == datetime(2026, 11, 1, 13, 0, tzinfo=UTC)
    assert wait.astimezone(UTC) - now.astimezone(UTC) == timedelta(hours=10)


def test_the_hour_repeated_when_the_clocks_go_back_is_still_night():
    for fold in (0, 1):  # 01:30 EDT, then 01:30 EST an hour later
        now = datetime(2026, 11, 1, 1, 30, tzinfo=NEW_YORK, fold=fold)
        wait = quiet_until(NY_NUMBER, **NIGHT, now=now)
        assert wait.astimezone(UTC) == datetime(2026, 11, 1, 13, 0, tzinfo=UTC)


def test_the_recipients_zone_decides_not_ours():
    # 23:30 in New York is 13:30 the next day in Tokyo.
    now = ny(2026, 1, 15, 23, 30)
    assert quiet_until(TOKYO_NUMBER, **NIGHT, now=now) is None
    assert quiet_until(NY_NUMBER, **NIGHT, now=now) is not None


def test_a_number_spanning_zones_waits_until_it_is_morning_in_all_of_them():
    # 09:00 in New York is night from Chicago to Hawaii, and already midnight on Guam (UTC+10),
    # whose 08:00 comes last.
    now = ny(2026, 1, 15, 9, 0)
    wait = quiet_until(TOLL_FREE, **NIGHT, now=now)
    assert wait.astimezone(UTC) == datetime(2026, 1, 15, 22, 0, tzinfo=UTC)
    assert quiet_until(TOLL_FREE, **NIGHT, now=wait) is None


def test_a_number_of_no_known_zone_is_not_held():
    assert quiet_until("999", **NIGHT, now=ny(2026, 1, 15, 23, 30)) is None


# --- the pace row -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_slots_are_one_interval_apart_and_the_next_call_continues_the_pace(settings):
    settings.CAMPAIGN_PACE_MARGIN = 0
    before = timezone.now()
    first = slots_reserve("15162065575", 3, 5)
    second = slots_reserve("15162065575", 2, 5)
    step = timedelta(seconds=0.2)
    assert first[0] >= before
    assert [b - a for a, b in zip(first, first[1:], strict=False)] == [step, step]
    assert second == [first[-1] + step, first[-1] + 2 * step]
    assert DidPace.objects.get(our_number="15162065575").next_at == second[-1] + step


@pytest.mark.django_db
def test_the_margin_stretches_each_second_of_sends(settings):
    settings.CAMPAIGN_PACE_MARGIN = 0.1
    slots = slots_reserve("15162065575", 11, 10)
    assert slots[10] - slots[0] == timedelta(seconds=1.1)  # ten sends, then the eleventh


@pytest.mark.django_db
def test_a_pace_left_in_the_past_starts_again_from_now_not_earlier():
    DidPace.objects.create(our_number="15162065575", next_at=timezone.now() - timedelta(hours=1))
    before = timezone.now()
    [slot] = slots_reserve("15162065575", 1, 1)
    assert before <= slot <= timezone.now()


@pytest.mark.django_db
def test_each_did_keeps_a_pace_of_its_own():
    a = slots_reserve("15162065575", 2, 1)
    b = slots_reserve("15162065574", 2, 1)
    assert b[0] < a[1]  # the second DID does not wait behind the first
    assert DidPace.objects.count() == 2


@pytest.mark.django_db
def test_nothing_is_reserved_for_no_sends():
    assert slots_reserve("15162065575", 0, 5) == []
    assert not DidPace.objects.exists()


def test_a_did_whose_send_went_late_does_not_catch_up_on_the_next_ones(settings):
    settings.CAMPAIGN_PACE_MARGIN = 0.1
    lane = Lane(our_number="15162065575", rate=Decimal(5), refusal=None, horizon=timezone.now())
    for at in (0.0, 0.22, 0.44, 0.66):
        assert lane.held_for(at) == 0
        lane.mark_released(at)
    lane.mark_released(1.0)  # the fifth went late; the sixth's slot (1.1 s) is near
    # Five sends span at least 1.1 s, whatever the slots say.
    assert lane.held_for(1.05) == pytest.approx(0.05)
    assert lane.held_for(1.1) == 0
    lane.mark_released(1.1)
    assert lane.held_for(1.2) == pytest.approx(0.12)  # 0.22 + 1.1
