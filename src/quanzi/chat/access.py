"""Fetch a group and check the actor may read it, in one call."""

from __future__ import annotations

from django.utils.translation import gettext as _

from quanzi.circles.models import Membership, MembershipStatus
from quanzi.core.errors import NotFound
from quanzi.core.ids import as_db_id

from .models import Group, GroupKind, GroupMember


def access_group(group_id: int | str, user, *, require_seat: bool = True) -> tuple[Group, Membership]:
    """The group and the actor's active circle membership.

    Non-members, people outside the group and missing ids all get the same 404.
    """
    gid = as_db_id(group_id)
    group = Group.objects.select_related("circle").filter(id=gid).first() if gid else None
    if group is None or user is None or not user.is_authenticated:
        raise NotFound(_("No such group."), code="group_not_found")
    membership = Membership.objects.filter(
        circle_id=group.circle_id, user=user, status=MembershipStatus.ACTIVE
    ).first()
    if membership is None:
        raise NotFound(_("No such group."), code="group_not_found")
    # Nobody but its two people may even see a DM group, whatever their role (chat DMs).
    if (require_seat or group.kind == GroupKind.DM) and not GroupMember.objects.filter(
        group=group, user=user
    ).exists():
        raise NotFound(_("No such group."), code="group_not_found")
    return group, membership
