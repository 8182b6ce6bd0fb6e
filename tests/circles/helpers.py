"""Helpers that prove what an action wrote, or that a refused action wrote nothing.

Shared by the circle and chat tests (``from circles.helpers import ...``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db.models import Max
from django.utils import timezone

from quanzi.accounts.models import User
from quanzi.chat.models import Group, GroupMember, Message, Notice
from quanzi.circles.models import Circle, Invite, JoinRequest, Membership
from quanzi.core.errors import QuanziError
from quanzi.core.models import AuditEntry, DomainEvent


@dataclass
class World:
    circle: Circle
    other_circle: Circle
    users: dict[str, User] = field(default_factory=dict)

    def actor(self, key: str) -> User:
        return self.users[key]

    def target(self, role: str) -> User:
        """The owner is a target of its own; every other role has a user distinct from the actors."""
        return self.users["owner"] if role == "owner" else self.users[f"t_{role}"]

    def membership(self, user: User) -> Membership | None:
        return Membership.objects.filter(circle=self.circle, user=user).first()

    def refresh(self) -> Circle:
        self.circle.refresh_from_db()
        return self.circle

    def local_day(self) -> date:
        return timezone.now().astimezone(ZoneInfo(self.circle.timezone)).date()


# --- proving what was (not) written -------------------------------------------------------


def snapshot() -> dict[str, list[dict[str, Any]]]:
    """Every row an action in this suite could touch; equal snapshots mean nothing was written."""
    models = (Circle, Membership, Invite, JoinRequest, Group, GroupMember, Message, Message.mentioned_users.through,
              Notice, AuditEntry, DomainEvent)
    return {m.__name__: list(m.objects.order_by("pk").values()) for m in models}


def assert_denied(code: str, action: Callable[[], Any]) -> QuanziError:
    before = snapshot()
    with pytest.raises(QuanziError) as caught:
        action()
    assert caught.value.code == code, caught.value.message
    after = snapshot()
    for table in before:
        assert after[table] == before[table], f"{table} changed although the action was refused"
    return caught.value


@dataclass
class Written:
    result: Any
    audit: list[AuditEntry]
    events: list[DomainEvent]
    days: set[date]


def run_allowed(world: World, action: Callable[[], Any]) -> Written:
    audit_from = AuditEntry.objects.aggregate(m=Max("id"))["m"] or 0
    event_from = DomainEvent.objects.aggregate(m=Max("id"))["m"] or 0
    day_before = world.local_day()
    result = action()
    days = {day_before, world.local_day()}
    return Written(
        result=result,
        audit=list(AuditEntry.objects.filter(id__gt=audit_from).order_by("id")),
        events=list(DomainEvent.objects.filter(id__gt=event_from).order_by("id")),
        days=days,
    )


def assert_audit(written: Written, world: World, *, actor: User, action: str, target_user: User | None = None,
                 target_repr: str | None = None, reason: str = "") -> AuditEntry:
    assert len(written.audit) == 1, [a.action for a in written.audit]
    entry = written.audit[0]
    assert entry.circle_id == world.circle.id
    assert entry.actor_id == actor.id
    assert entry.action == action
    assert entry.target_user_id == (target_user.id if target_user else None)
    if target_repr is not None:
        assert entry.target_repr == target_repr
    elif target_user is not None:
        assert entry.target_repr == target_user.username
    assert entry.reason == reason
    return entry


def assert_event(written: Written, world: World, type_: str, *, actor: User | None, target_user: User | None = None,
                 group_id: int | None = None) -> DomainEvent:
    rows = [e for e in written.events if e.type == type_]
    assert len(rows) == 1, [e.type for e in written.events]
    row = rows[0]
    assert row.circle_id == world.circle.id
    assert row.actor_id == (actor.id if actor else None)
    assert row.target_user_id == (target_user.id if target_user else None)
    if group_id is not None:
        assert row.group_id == group_id
    assert row.day in written.days, (row.day, written.days)
    return row
