"""Reads for the real-time layer: what a newly connected socket subscribes to."""

from __future__ import annotations

from dataclasses import dataclass, field

from quanzi.chat.selectors import group_ids_for_user
from quanzi.circles.models import Membership, MembershipStatus

from .audience import MODERATOR_ROLES


@dataclass
class Subscriptions:
    circles: dict[int, bool] = field(default_factory=dict)  # circle id → moderator or above
    groups: list[tuple[int, int]] = field(default_factory=list)  # (circle id, group id) seats


def subscriptions_for(user_id: int) -> Subscriptions:
    """The user's active circles and the group seats inside them."""
    circles = {
        circle_id: role in MODERATOR_ROLES
        for circle_id, role in Membership.objects.filter(
            user_id=user_id, status=MembershipStatus.ACTIVE
        ).values_list("circle_id", "role")
    }
    groups = [(c, g) for c, g in group_ids_for_user(user_id) if c in circles]
    return Subscriptions(circles=circles, groups=groups)
