"""Fixtures for check-in challenges: a challenge factory and aware datetimes in a named zone."""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime, time, timedelta

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


def open_now_fields(**extra) -> dict:
    """Rules whose window is open right now (UTC circle): opened an hour ago, closes in two hours."""
    from datetime import UTC, timedelta

    from django.utils import timezone

    now = timezone.now().astimezone(UTC)
    opens, closes = now - timedelta(hours=1), now + timedelta(hours=2)
    fields = {"start_date": opens.date() - timedelta(days=2), "end_date": opens.date() + timedelta(days=5),
              "window_start": opens.time().replace(second=0, microsecond=0),
              "window_end": closes.time().replace(second=0, microsecond=0),
              "now": now - timedelta(days=10)}
    fields.update(extra)
    return fields


@pytest.fixture
def live_challenge(make_challenge):
    """``live_challenge(**fields)``: a running challenge (two days old) whose window is open now."""

    def make(**fields):
        return make_challenge(**open_now_fields(**fields))

    return make


class Api:
    """A JSON client with a fresh bearer token: ``call(method, path, body)`` → (status, JSON)."""

    def __init__(self, user) -> None:
        from django.test import Client

        from quanzi.accounts import actions as account_actions

        self.client = Client()
        _row, self.token = account_actions.do_create_token(user=user, name="tests")

    def call(self, method: str, path: str, body=None):
        import json

        headers = {"Authorization": f"Bearer {self.token}"}
        fn = getattr(self.client, method.lower())
        if method == "GET":
            response = fn(path, headers=headers)
        else:
            response = fn(path, json.dumps(body) if body is not None else "", content_type="application/json",
                          headers=headers)
        return response.status_code, response.json()


@pytest.fixture
def api_as(db):
    """``api_as(user)`` → an :class:`Api` client authenticated as ``user``."""
    return Api


@pytest.fixture(autouse=True)
def _reset_thread_locale():
    """Requests activate the user's language and zone on this thread; don't leak them."""
    from django.utils import timezone, translation

    yield
    translation.deactivate()
    timezone.deactivate()


def future_monday(weeks_ahead: int = 3):
    """A Monday a few weeks from today: challenges created by tests start in the future whatever today is."""
    from django.utils import timezone

    today = timezone.now().date()
    return today + timedelta(days=7 * weeks_ahead - today.weekday())


MON = future_monday()
"""Start of the two-week (Monday to Sunday) challenges that API and form tests create."""
SUN2 = MON + timedelta(days=13)
