"""Template tags for direct messages: the Messages tab badge, the members page's Message button,
the room header of a DM and the profile page's blocked list (docs/dms.md)."""

from __future__ import annotations

from django import template

from quanzi.chat import dms
from quanzi.circles import rules
from quanzi.circles.access import get_membership

register = template.Library()


@register.simple_tag(takes_context=True)
def dm_unread(context, circle) -> int:
    """Unread direct messages of the viewer in this circle (the Messages tab's badge)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return 0
    return dms.dm_unread_total(user, circle.id)


@register.simple_tag(takes_context=True)
def dm_allowed(context, circle, target) -> bool:
    """Whether to offer "Message" on a member row: the circle's policy and both roles (blocks
    are checked when the button is used, and explained then)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or target.user_id == user.id:
        return False
    viewer = context.get("membership")
    if viewer is None or getattr(viewer, "user_id", None) != user.id or viewer.circle_id != circle.id:
        viewer = get_membership(circle, user)
    return rules.can_start_dm(circle.dm_policy, viewer, target)


@register.simple_tag
def blocked_people(user) -> list:
    """The people ``user`` blocked, for the profile page."""
    if user is None or not user.is_authenticated:
        return []
    return list(dms.blocked_users(user)[:500])
