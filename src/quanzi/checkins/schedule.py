"""The challenge's clock: scheduled days, daily windows and streak arithmetic, all pure functions.

Everything is computed in the circle's time zone. A day is a local date; its window opens at
``window_start`` on that date and closes at ``window_end`` on the same date, or on the next
date when ``window_end <= window_start`` (a window across midnight belongs to the day on which
it opened). Windows are half-open: [opens, closes).

DST: a local time that does not exist (02:30 on a spring-forward night) is read with the
offset in force before the change (so it lands an hour later on the wall clock); an ambiguous
one (01:30 on a fall-back night) is its first occurrence. Python's ``zoneinfo`` with fold=0
does exactly that.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from .models import EVERY_DAY

MAX_CHALLENGE_DAYS = 366 * 2  # bounds every per-day loop (streak recomputation, calendars)


def zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def weekdays_to_mask(days: list[int] | tuple[int, ...] | set[int]) -> int:
    """Monday = 0 … Sunday = 6 (``date.weekday()``) to the stored bitmask."""
    mask = 0
    for d in days:
        mask |= 1 << int(d)
    return mask


def mask_to_weekdays(mask: int) -> list[int]:
    return [d for d in range(7) if mask & (1 << d)]


@dataclass(frozen=True, slots=True)
class Rules:
    """The parts of a challenge the clock needs (built from a model or from a raw SQL row)."""

    start_date: date
    end_date: date
    weekdays: int
    window_start: time
    window_end: time
    tz: zoneinfo.ZoneInfo

    @classmethod
    def of(cls, challenge, tz_name: str) -> Rules:
        return cls(challenge.start_date, challenge.end_date, challenge.weekdays, challenge.window_start,
                   challenge.window_end, zone(tz_name))

    # --- days ---------------------------------------------------------------------------------

    def is_scheduled(self, day: date) -> bool:
        return self.start_date <= day <= self.end_date and bool(self.weekdays & (1 << day.weekday()))

    def scheduled_index(self, day: date) -> int:
        """How many scheduled weekdays fall in [start_date, day): consecutive scheduled days differ by 1."""
        span = (day - self.start_date).days
        weeks, rest = divmod(span, 7)
        count = weeks * bin(self.weekdays & EVERY_DAY).count("1")
        first = self.start_date.weekday()
        for i in range(rest):
            if self.weekdays & (1 << ((first + i) % 7)):
                count += 1
        return count

    def scheduled_days(self, until: date | None = None) -> list[date]:
        last = min(self.end_date, until) if until else self.end_date
        days, day = [], self.start_date
        while day <= last:
            if self.weekdays & (1 << day.weekday()):
                days.append(day)
            day += timedelta(days=1)
        return days

    def scheduled_count(self) -> int:
        return self.scheduled_index(self.end_date + timedelta(days=1))

    def previous_scheduled(self, day: date) -> date | None:
        probe = day - timedelta(days=1)
        for _ in range(7):
            if probe < self.start_date:
                return None
            if self.weekdays & (1 << probe.weekday()):
                return probe
            probe -= timedelta(days=1)
        return None

    def next_scheduled(self, day: date) -> date | None:
        """The first scheduled day on or after ``day``."""
        probe = max(day, self.start_date)
        for _ in range(7):
            if probe > self.end_date:
                return None
            if self.weekdays & (1 << probe.weekday()):
                return probe
            probe += timedelta(days=1)
        return None

    # --- windows ------------------------------------------------------------------------------

    @property
    def crosses_midnight(self) -> bool:
        return self.window_end <= self.window_start

    def window(self, day: date) -> tuple[datetime, datetime]:
        """[opens, closes) of the day's window, in UTC.

        UTC on purpose: Python compares and subtracts two datetimes sharing one tzinfo by wall
        clock, which is wrong across a DST change.
        """
        opens = datetime.combine(day, self.window_start, tzinfo=self.tz)
        close_day = day + timedelta(days=1) if self.crosses_midnight else day
        closes = datetime.combine(close_day, self.window_end, tzinfo=self.tz)
        return opens.astimezone(UTC), closes.astimezone(UTC)

    def local(self, now: datetime) -> datetime:
        return now.astimezone(self.tz)

    def open_day(self, now: datetime) -> date | None:
        """The scheduled day whose window contains ``now``, if any."""
        today = self.local(now).date()
        for day in (today, today - timedelta(days=1)):
            if self.is_scheduled(day):
                opens, closes = self.window(day)
                if opens <= now < closes:
                    return day
        return None

    def why_closed(self, now: datetime) -> Closed:
        """Why no window is open at ``now`` (call when ``open_day`` is None)."""
        if now < self.window(self.start_date)[0]:
            return Closed.NOT_STARTED
        if now >= self.window(self.end_date)[1]:
            return Closed.ENDED
        today = self.local(now).date()
        if not self.is_scheduled(today):
            return Closed.NOT_SCHEDULED
        return Closed.OUTSIDE_WINDOW

    def next_window_open(self, now: datetime) -> tuple[date, datetime] | None:
        """The next scheduled day whose window opens at or after ``now``."""
        day = self.next_scheduled(self.local(now).date() - timedelta(days=1))
        while day is not None:
            opens = self.window(day)[0]
            if opens >= now:
                return day, opens
            day = self.next_scheduled(day + timedelta(days=1))
        return None

    def day_closed(self, day: date, now: datetime) -> bool:
        return now >= self.window(day)[1]

    def started(self, now: datetime) -> bool:
        return now >= self.window(self.start_date)[0]


class Closed(StrEnum):
    NOT_STARTED = "not_started"
    ENDED = "challenge_ended"
    NOT_SCHEDULED = "not_scheduled_day"
    OUTSIDE_WINDOW = "outside_window"


def streaks(rules: Rules, days: list[date]) -> tuple[int, int]:
    """(current, longest) over check-in days: runs of consecutive *scheduled* days.

    ``current`` is the run ending at the latest check-in (whether it is still alive today is
    a display question: see :func:`live_streak`).
    """
    indexes = sorted({rules.scheduled_index(d) for d in days})
    if not indexes:
        return 0, 0
    longest = run = 1
    for prev, cur in zip(indexes, indexes[1:], strict=False):
        run = run + 1 if cur == prev + 1 else 1
        longest = max(longest, run)
    return run, longest


def live_streak(rules: Rules, *, current: int, last_day: date | None, now: datetime) -> int:
    """The stored streak if it can still grow: its last day is the latest scheduled day already open."""
    if last_day is None or current == 0:
        return 0
    today = rules.local(now).date()
    # The latest scheduled day whose window has opened by now.
    probe = min(today, rules.end_date)
    latest = None
    for _ in range(8):
        if probe < rules.start_date:
            break
        if rules.is_scheduled(probe) and rules.window(probe)[0] <= now:
            latest = probe
            break
        probe -= timedelta(days=1)
    if latest is None or last_day == latest:
        return current
    # Today's window is open but not used yet: the streak lives on while yesterday's check-in stands.
    if rules.previous_scheduled(latest) == last_day and not rules.day_closed(latest, now):
        return current
    return 0
