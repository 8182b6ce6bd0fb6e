"""A populated circle for the permission matrix, and helpers that prove what an action wrote.

The world is built with plain ORM inserts (what ``_activate_membership`` writes, minus the
welcome message) so the ~400 matrix cases stay fast; the join flows themselves are covered
through the real actions in ``test_circle_joining.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db.models import F, Max
from django.utils import timezone

from quanzi.accounts.models import User
from quanzi.chat.models import Group, GroupMember, Message, Notice
from quanzi.circles import actions as circle_actions
from quanzi.circles.models import Circle, Invite, JoinRequest, Membership, MembershipStatus, Role
from quanzi.core.errors import QuanziError
from quanzi.core.models import AuditEntry, DomainEvent

# A zone 14 hours ahead of UTC: for most of the UTC day its date differs from UTC's, so
# an event ``day`` computed in the wrong zone shows up.
CIRCLE_TZ = "Pacific/Kiritimati"

ACTORS = ("owner", "admin", "moderator", "member", "muted", "banned", "outsider", "other_circle")
TARGET_ROLES = ("owner", "admin", "moderator", "member")


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


def seat(circle: Circle, user: User, *, role: str = Role.MEMBER, status: str = MembershipStatus.ACTIVE,
         muted_until=None) -> Membership:
    """Insert a membership (and the group seats and member count an active one implies)."""
    membership = Membership.objects.create(circle=circle, user=user, role=role, status=status,
                                           muted_until=muted_until)
    if status == MembershipStatus.ACTIVE:
        GroupMember.objects.bulk_create(
            [GroupMember(group_id=g, user=user) for g in (circle.main_group_id, circle.channel_group_id) if g]
        )
        Circle.objects.filter(id=circle.id).update(member_count=F("member_count") + 1)
    return membership


@pytest.fixture
def world(make_user) -> World:
    owner = make_user("w_owner")
    circle = circle_actions.do_create_circle(
        owner=owner, name="Matrix", slug="matrix", rules_text="Be kind.", with_channel=True,
        timezone_name=CIRCLE_TZ,
    )
    other_owner = make_user("w_other_owner")
    other = circle_actions.do_create_circle(owner=other_owner, name="Elsewhere", slug="elsewhere")
    w = World(circle=circle, other_circle=other, users={"owner": owner})
    later = timezone.now() + timedelta(days=1)
    plan = {
        "admin": {"role": Role.ADMIN},
        "moderator": {"role": Role.MODERATOR},
        "member": {},
        "muted": {"muted_until": later},
        "banned": {"status": MembershipStatus.BANNED},
        "t_admin": {"role": Role.ADMIN},
        "t_moderator": {"role": Role.MODERATOR},
        "t_member": {},
        "t_banned": {"status": MembershipStatus.BANNED},
    }
    # Bulk inserts keep the ~400 matrix cases quick; nobody logs in, so no password hashing.
    keys = [*plan, "outsider", "other_circle"]
    users = User.objects.bulk_create([User(username=f"w_{k}", email=f"w_{k}@example.com") for k in keys])
    w.users.update(zip(keys, users, strict=True))
    rows = [Membership(circle=circle, user=w.users[key], **options) for key, options in plan.items()]
    rows.append(Membership(circle=other, user=w.users["other_circle"]))
    Membership.objects.bulk_create(rows)
    active = [m for m in rows if m.status == MembershipStatus.ACTIVE]
    GroupMember.objects.bulk_create(
        [GroupMember(group_id=g, user_id=m.user_id) for m in active
         for g in (m.circle.main_group_id, m.circle.channel_group_id) if g]
    )
    Circle.objects.filter(id=circle.id).update(member_count=F("member_count") + sum(m.circle == circle for m in active))
    Circle.objects.filter(id=other.id).update(member_count=F("member_count") + 1)
    w.refresh()
    return w


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
