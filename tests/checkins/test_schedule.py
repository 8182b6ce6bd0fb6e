"""The challenge clock: windows in several zones, across midnight and DST, weekdays, streak arithmetic."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest

from quanzi.checkins.schedule import Closed, Rules, live_streak, streaks, weekdays_to_mask, zone

from .conftest import at

pytestmark = pytest.mark.db_independent  # no database or Redis: make test runs it in the SQLite pass only

MON_WED_FRI = weekdays_to_mask([0, 2, 4])


def rules(tz="UTC", start=date(2026, 3, 2), end=date(2026, 3, 29), days=0b1111111, ws=time(5), we=time(8)):
    return Rules(start, end, days, ws, we, zone(tz))


def test_window_edges_in_shanghai_are_half_open():
    r = rules("Asia/Shanghai")
    assert r.open_day(at("Asia/Shanghai", 2026, 3, 3, 4, 59, 59)) is None
    assert r.open_day(at("Asia/Shanghai", 2026, 3, 3, 5, 0)) == date(2026, 3, 3)
    assert r.open_day(at("Asia/Shanghai", 2026, 3, 3, 7, 59, 59)) == date(2026, 3, 3)
    assert r.open_day(at("Asia/Shanghai", 2026, 3, 3, 8, 0)) is None
    # The same instant seen from New York (previous evening there) is still Shanghai's morning.
    assert r.open_day(at("Asia/Shanghai", 2026, 3, 3, 6, 0).astimezone(zone("America/New_York"))) == date(2026, 3, 3)
    # 05:00 in Shanghai is 21:00 UTC the day before.
    assert r.open_day(at("UTC", 2026, 3, 2, 21, 0)) == date(2026, 3, 3)
    assert r.why_closed(at("Asia/Shanghai", 2026, 3, 3, 9, 0)) == Closed.OUTSIDE_WINDOW


def test_new_york_window_follows_the_wall_clock_across_spring_forward():
    # DST starts Sunday 8 March 2026 at 02:00 (EST −5 → EDT −4).
    r = rules("America/New_York")
    before, after = r.window(date(2026, 3, 7)), r.window(date(2026, 3, 8))
    assert before[0].astimezone(zone("UTC")).hour == 10  # 05:00 EST
    assert after[0].astimezone(zone("UTC")).hour == 9  # 05:00 EDT
    assert r.open_day(at("UTC", 2026, 3, 8, 9, 0)) == date(2026, 3, 8)
    assert r.open_day(at("UTC", 2026, 3, 8, 8, 59)) is None
    assert r.open_day(at("UTC", 2026, 3, 8, 11, 59)) == date(2026, 3, 8)
    assert r.open_day(at("UTC", 2026, 3, 8, 12, 0)) is None  # 08:00 EDT


def test_window_through_the_missing_hour_on_spring_forward_night():
    # 01:00–03:00 local: on 8 March 2026 02:00–03:00 does not exist; the window is one real hour.
    r = rules("America/New_York", ws=time(1), we=time(3))
    opens, closes = r.window(date(2026, 3, 8))
    assert closes - opens == timedelta(hours=1)
    assert r.open_day(at("UTC", 2026, 3, 8, 6, 30)) == date(2026, 3, 8)  # 01:30 EST
    assert r.open_day(at("UTC", 2026, 3, 8, 7, 0)) is None  # 03:00 EDT


def test_window_on_fall_back_night_is_two_real_hours_long():
    # DST ends Sunday 1 November 2026 at 02:00 (01:00–02:00 happens twice).
    r = rules("America/New_York", start=date(2026, 10, 26), end=date(2026, 11, 8), ws=time(0, 30), we=time(2, 30))
    opens, closes = r.window(date(2026, 11, 1))
    assert closes - opens == timedelta(hours=3)
    assert r.open_day(at("America/New_York", 2026, 11, 1, 1, 30, fold=1)) == date(2026, 11, 1)


def test_window_across_midnight_belongs_to_the_day_it_opened():
    r = rules("Asia/Shanghai", ws=time(22), we=time(2))
    assert r.crosses_midnight
    assert r.open_day(at("Asia/Shanghai", 2026, 3, 3, 22, 0)) == date(2026, 3, 3)
    assert r.open_day(at("Asia/Shanghai", 2026, 3, 4, 1, 59)) == date(2026, 3, 3)
    assert r.open_day(at("Asia/Shanghai", 2026, 3, 4, 2, 0)) is None
    assert r.open_day(at("Asia/Shanghai", 2026, 3, 4, 21, 59)) is None
    # After the last day's evening window, the small hours of the day after still count for it.
    assert r.open_day(at("Asia/Shanghai", 2026, 3, 30, 1, 0)) == date(2026, 3, 29)
    assert r.why_closed(at("Asia/Shanghai", 2026, 3, 30, 2, 0)) == Closed.ENDED
    # Before the first evening: not started, even on the first day.
    assert r.why_closed(at("Asia/Shanghai", 2026, 3, 2, 1, 0)) == Closed.NOT_STARTED


def test_across_midnight_with_chosen_weekdays():
    # Friday nights only: Saturday 01:00 counts for Friday; Friday 01:00 is before Friday's window.
    r = rules("UTC", days=weekdays_to_mask([4]), ws=time(23), we=time(3))
    assert r.open_day(at("UTC", 2026, 3, 7, 1, 0)) == date(2026, 3, 6)
    assert r.open_day(at("UTC", 2026, 3, 6, 1, 0)) is None
    assert r.why_closed(at("UTC", 2026, 3, 6, 1, 0)) == Closed.OUTSIDE_WINDOW
    assert r.why_closed(at("UTC", 2026, 3, 7, 3, 0)) == Closed.NOT_SCHEDULED
    assert r.why_closed(at("UTC", 2026, 3, 5, 23, 30)) == Closed.NOT_SCHEDULED


def test_chosen_weekdays():
    r = rules(days=MON_WED_FRI)
    assert r.open_day(at("UTC", 2026, 3, 3, 6, 0)) is None  # Tuesday
    assert r.why_closed(at("UTC", 2026, 3, 3, 6, 0)) == Closed.NOT_SCHEDULED
    assert r.open_day(at("UTC", 2026, 3, 4, 6, 0)) == date(2026, 3, 4)
    assert r.scheduled_count() == 12
    assert r.previous_scheduled(date(2026, 3, 4)) == date(2026, 3, 2)
    assert r.previous_scheduled(date(2026, 3, 2)) is None
    assert r.next_scheduled(date(2026, 3, 7)) == date(2026, 3, 9)
    assert [r.scheduled_index(d) for d in r.scheduled_days()] == list(range(12))


def test_before_start_and_after_end():
    r = rules()
    assert r.why_closed(at("UTC", 2026, 3, 1, 6, 0)) == Closed.NOT_STARTED
    assert r.why_closed(at("UTC", 2026, 3, 2, 4, 0)) == Closed.NOT_STARTED
    assert r.why_closed(at("UTC", 2026, 3, 29, 8, 0)) == Closed.ENDED
    assert r.why_closed(at("UTC", 2026, 4, 2, 6, 0)) == Closed.ENDED


def test_next_window_open():
    r = rules(days=MON_WED_FRI)
    assert r.next_window_open(at("UTC", 2026, 2, 1, 0, 0)) == (date(2026, 3, 2), at("UTC", 2026, 3, 2, 5, 0))
    assert r.next_window_open(at("UTC", 2026, 3, 2, 5, 0, 1))[0] == date(2026, 3, 4)
    assert r.next_window_open(at("UTC", 2026, 3, 27, 5, 1)) is None


def test_streaks_count_scheduled_days_only():
    r = rules(days=MON_WED_FRI)
    mon, wed, fri, next_mon, next_wed = (date(2026, 3, d) for d in (2, 4, 6, 9, 11))
    assert streaks(r, [mon, wed, fri, next_mon]) == (4, 4)
    assert streaks(r, [mon, wed, next_mon, next_wed]) == (2, 2)
    assert streaks(r, [mon, next_mon, next_wed, wed]) == (2, 2)
    assert streaks(r, []) == (0, 0)
    assert streaks(r, [mon, wed, fri, next_wed]) == (1, 3)


def test_live_streak_drops_after_a_missed_day():
    r = rules()
    # Checked in on the 3rd, streak 3: alive on the 4th before and during the window, dead after it closed.
    assert live_streak(r, current=3, last_day=date(2026, 3, 3), now=at("UTC", 2026, 3, 4, 4, 0)) == 3
    assert live_streak(r, current=3, last_day=date(2026, 3, 3), now=at("UTC", 2026, 3, 4, 6, 0)) == 3
    assert live_streak(r, current=3, last_day=date(2026, 3, 3), now=at("UTC", 2026, 3, 4, 9, 0)) == 0
    assert live_streak(r, current=3, last_day=date(2026, 3, 4), now=at("UTC", 2026, 3, 4, 9, 0)) == 3
