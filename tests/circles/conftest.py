"""A populated circle for the permission matrix.

The world is built with plain ORM inserts (what ``_activate_membership`` writes, minus the
welcome message) so the ~400 matrix cases stay fast; the join flows themselves are covered
through the real actions in ``test_circle_joining.py``.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models import F
from django.utils import timezone

from quanzi.accounts.models import User
from quanzi.chat.models import GroupMember
from quanzi.circles import actions as circle_actions
from quanzi.circles.models import Circle, Membership, MembershipStatus, Role

from .helpers import World

# A zone 14 hours ahead of UTC: for most of the UTC day its date differs from UTC's, so
# an event ``day`` computed in the wrong zone shows up.
CIRCLE_TZ = "Pacific/Kiritimati"

ACTORS = ("owner", "admin", "moderator", "member", "muted", "banned", "outsider", "other_circle")
TARGET_ROLES = ("owner", "admin", "moderator", "member")


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
