"""Small read-only queries used only by the web pages."""

from __future__ import annotations

from dataclasses import dataclass

from quanzi.circles.models import Circle, Membership, MembershipStatus


@dataclass(frozen=True)
class FollowStats:
    followers: int
    active_members: int

    @property
    def rate(self) -> float:
        """Followers per active member (0 for an empty circle)."""
        return self.followers / self.active_members if self.active_members else 0.0

    @property
    def percent(self) -> int:
        return round(self.rate * 100)


def channel_follow_stats(circle: Circle) -> FollowStats | None:
    """How many active members follow the announcement channel, or None without a channel."""
    if not circle.channel_group_id:
        return None
    active = Membership.objects.filter(circle=circle, status=MembershipStatus.ACTIVE)
    return FollowStats(followers=active.filter(follows_channel=True).count(), active_members=active.count())
