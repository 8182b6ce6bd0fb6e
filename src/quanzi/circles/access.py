"""Fetch a circle (or membership) and check the actor may see it, in one call.

A circle the actor may not see answers exactly like a missing one (Zulip's
``access_stream_by_id``), so slugs and ids can't be probed.
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from quanzi.core.errors import NotFound
from quanzi.core.ids import as_db_id

from .models import Circle, JoinRequest, Membership, MembershipStatus, Visibility


def get_membership(circle: Circle, user) -> Membership | None:
    if user is None or not user.is_authenticated:
        return None
    return Membership.objects.filter(circle=circle, user=user).first()


def access_circle(slug_or_id: str | int, user, *, require_member: bool = False) -> tuple[Circle, Membership | None]:
    """The circle and the user's membership row (any status, or None).

    Public circles are visible to everyone; private ones only to active members.
    With ``require_member`` only active members get the circle.
    """
    qs = Circle.objects.select_related("main_group", "channel_group")
    # Slug first (an all-digit slug such as "2024" is valid), then an id. Only short ASCII
    # digit strings are ids: "²".isdigit() is True but int() refuses it, and a 30-digit
    # number overflows the database integer.
    key = str(slug_or_id)
    circle = None if isinstance(slug_or_id, int) else qs.filter(slug=key).first()
    if circle is None and key.isascii() and key.isdigit() and len(key) <= 18:
        circle = qs.filter(id=int(key)).first()
    if circle is None:
        raise NotFound(_("No such circle."), code="circle_not_found")
    membership = get_membership(circle, user)
    active = membership is not None and membership.status == MembershipStatus.ACTIVE
    if (require_member or circle.visibility == Visibility.PRIVATE) and not active:
        raise NotFound(_("No such circle."), code="circle_not_found")
    return circle, membership


def access_member(circle: Circle, user_id: int | str) -> Membership:
    """A membership row of the circle, by user id (any status)."""
    uid = as_db_id(user_id)
    membership = Membership.objects.select_related("user").filter(circle=circle, user_id=uid).first() if uid else None
    if membership is None:
        raise NotFound(_("No such member."), code="member_not_found")
    return membership


def access_join_request(circle: Circle, request_id: int | str) -> JoinRequest:
    """A join request of this circle, by id; other circles' ids answer like missing ones.

    Callers still check ``rules.check_decide_join_requests`` (the action does too).
    """
    rid = as_db_id(request_id)
    join_request = JoinRequest.objects.select_related("user").filter(id=rid, circle=circle).first() if rid else None
    if join_request is None:
        raise NotFound(_("No such join request."), code="join_request_not_found")
    return join_request
