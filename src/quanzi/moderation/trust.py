"""Reading and counting members' trust (criteria in ``rules``). Plain SQL: it runs on every chat send."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import connection
from django.utils import timezone

from quanzi.circles.models import Circle, Membership

from . import rules
from .models import MemberTrust, Strike, TrustLevel


@dataclass
class TrustState:
    circle_id: int
    user_id: int
    joined_at: datetime | None
    circle_stamp: str = ""  # the circle's creation time: with its id, names the circle in cache keys
    level: int = TrustLevel.NEWCOMER
    locked: bool = False
    messages: int = 0
    active_days: int = 0
    last_active_day: date | None = None
    exists: bool = False


# {m}, {t}, {c}: table names from the models (membership, trust, circle).
_SQL = {
    "load": "SELECT m.joined_at, t.level, t.locked_by_admin, t.messages, t.active_days, t.last_active_day,"
    " c.created_at FROM {m} m JOIN {c} c ON c.id = m.circle_id"
    " LEFT JOIN {t} t ON t.circle_id = m.circle_id AND t.user_id = m.user_id"
    " WHERE m.circle_id = %s AND m.user_id = %s",
    "count": "UPDATE {t} SET messages = messages + 1,"
    " active_days = active_days + (CASE WHEN last_active_day IS NULL OR last_active_day <> %s THEN 1 ELSE 0 END),"
    " last_active_day = %s, updated_at = %s WHERE circle_id = %s AND user_id = %s",
    "promote": "UPDATE {t} SET level = %s, updated_at = %s WHERE circle_id = %s AND user_id = %s"
    " AND locked_by_admin = %s AND level < %s",
}


@functools.cache
def _sql() -> dict[str, str]:
    q = connection.ops.quote_name
    names = {"m": q(Membership._meta.db_table), "t": q(MemberTrust._meta.db_table), "c": q(Circle._meta.db_table)}
    return {key: template.format(**names) for key, template in _SQL.items()}


def _aware(value):
    if isinstance(value, str):  # SQLite without converters
        value = datetime.fromisoformat(value)
    if value is not None and timezone.is_naive(value):
        value = timezone.make_aware(value, connection.timezone)
    return value


def _day(value):
    if isinstance(value, str):
        return date.fromisoformat(value)
    return value


def stamp_of(created_at) -> str:
    """A circle's creation time as a short string (cache keys: ids are reused when a test database rolls back)."""
    created_at = _aware(created_at)
    return f"{created_at.timestamp():.6f}" if created_at else "0"


def circle_stamp(circle_id: int) -> str:
    return stamp_of(Circle.objects.filter(id=circle_id).values_list("created_at", flat=True).first())


def load(circle_id: int, user_id: int) -> TrustState:
    with connection.cursor() as cursor:
        cursor.execute(_sql()["load"], [circle_id, user_id])
        row = cursor.fetchone()
    if row is None:
        return TrustState(circle_id=circle_id, user_id=user_id, joined_at=None)
    joined_at, level, locked, messages, active_days, last_day, circle_created = row
    return TrustState(
        circle_id=circle_id, user_id=user_id, joined_at=_aware(joined_at), circle_stamp=stamp_of(circle_created),
        level=level or 0, locked=bool(locked),
        messages=messages or 0, active_days=active_days or 0, last_active_day=_day(last_day), exists=level is not None,
    )


def effective_level(state: TrustState, *, newcomer_hours: int, now: datetime) -> int:
    """The level the gate applies now: an admin's lock, else the stored level or what time has earned since.

    Regular needs a strike check and is granted when counting (``count_accepted``), never here.
    """
    if state.locked:
        return state.level
    earned = rules.earned_level(
        joined_at=state.joined_at, messages=state.messages, active_days=state.active_days,
        newcomer_hours=newcomer_hours, now=now, has_recent_strike=True,
    )
    return max(state.level, earned)


def level_for(membership: Membership, *, now: datetime | None = None) -> int:
    """A member's current level in their circle (for checks outside the send path, e.g. starting a DM)."""
    from .policy import get_policy

    state = load(membership.circle_id, membership.user_id)
    policy = get_policy(membership.circle_id, stamp=state.circle_stamp)
    return effective_level(state, newcomer_hours=policy.newcomer_link_hours, now=now or timezone.now())


def has_recent_strike(circle_id: int, user_id: int, *, days: int, now: datetime) -> bool:
    return Strike.objects.filter(
        circle_id=circle_id, user_id=user_id, revoked_at__isnull=True, created_at__gte=now - timedelta(days=days)
    ).exists()


def count_accepted(state: TrustState, *, newcomer_hours: int, strike_days: int, now: datetime) -> None:
    """One more accepted message/post/comment: bump the counters and promote if that earns a level."""
    today = now.date()
    ops = connection.ops
    if not state.exists:
        MemberTrust.objects.get_or_create(circle_id=state.circle_id, user_id=state.user_id)
        state.exists = True
    with connection.cursor() as cursor:
        cursor.execute(
            _sql()["count"],
            [ops.adapt_datefield_value(today), ops.adapt_datefield_value(today), ops.adapt_datetimefield_value(now),
             state.circle_id, state.user_id],
        )
    state.messages += 1
    if state.last_active_day != today:
        state.active_days += 1
        state.last_active_day = today
    if state.locked:
        return
    earned = rules.earned_level(
        joined_at=state.joined_at, messages=state.messages, active_days=state.active_days,
        newcomer_hours=newcomer_hours, now=now, has_recent_strike=False,
    )
    if earned == TrustLevel.REGULAR and has_recent_strike(state.circle_id, state.user_id, days=strike_days, now=now):
        earned = TrustLevel.MEMBER
    if earned > state.level:
        with connection.cursor() as cursor:
            cursor.execute(_sql()["promote"], [earned, ops.adapt_datetimefield_value(now), state.circle_id,
                                               state.user_id, False, earned])
        state.level = earned
