"""Fixtures for check-in challenges: a challenge factory and aware datetimes in a named zone."""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime, time

import pytest

from quanzi.checkins import actions


def at(tz: str, *args: int, fold: int = 0) -> datetime:
    """An aware datetime at a local wall-clock time in ``tz``."""
    return datetime(*args, tzinfo=zoneinfo.ZoneInfo(tz), fold=fold)


# Monday 2 March 2026 … Sunday 15 March 2026: two weeks.
START, END = date(2026, 3, 2), date(2026, 3, 15)
BEFORE = datetime(2026, 2, 20, 12, 0, tzinfo=zoneinfo.ZoneInfo("UTC"))


@pytest.fixture
def make_challenge(circle, owner):
    """``make_challenge(**fields)``: a challenge in the ``circle`` fixture, created before it starts."""

    def make(*, tz: str | None = None, now: datetime = BEFORE, **fields):
        if tz is not None and circle.timezone != tz:
            circle.timezone = tz
            circle.save(update_fields=["timezone"])
        values = {"title": "Early birds", "start_date": START, "end_date": END, "window_start": time(5, 0),
                  "window_end": time(8, 0)}
        values.update(fields)
        return actions.do_create_challenge(actor=owner, circle=circle, now=now, **values)

    return make


@pytest.fixture
def joined(make_user, circle):
    """``joined(challenge, name)``: a new circle member who joined the challenge (before it started)."""
    from quanzi.circles import actions as circle_actions

    def join(challenge, name: str | None = None, now: datetime = BEFORE):
        user = make_user(name)
        circle_actions.do_join_circle(user=user, circle=circle)
        actions.do_join_challenge(user=user, challenge=challenge, now=now)
        return user

    return join
