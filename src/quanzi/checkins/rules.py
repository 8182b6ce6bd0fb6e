"""Who may do what with check-in challenges: the one permission module for web and API.

==============================  ======  =====  =====  =====
action                          member  mod    admin  owner
==============================  ======  =====  =====  =====
see challenges, boards, feed    yes     yes    yes    yes
create / edit a challenge       no      no     yes    yes
join, check in, make up         yes     yes    yes    yes
like, comment                   yes*    yes    yes    yes
delete a comment                author  yes    yes    yes
==============================  ======  =====  =====  =====

(*) muted members and expired paid members may not comment; they can still check in (a
check-in is their part of a challenge they may have paid a deposit for).
Outsiders get the same 404 as for a missing circle (``circles.access``).
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone
from django.utils.translation import gettext as _

from quanzi.circles import rules as circle_rules
from quanzi.circles.models import Membership, Role
from quanzi.core.errors import Forbidden


def can_manage_challenges(membership: Membership | None) -> bool:
    return circle_rules.has_role(membership, Role.ADMIN)


def check_manage_challenges(membership: Membership | None) -> None:
    circle_rules.require_role(membership, Role.ADMIN)


def check_take_part(membership: Membership | None) -> None:
    """Joining, checking in and making up: any active member of the circle."""
    if not circle_rules.is_active(membership):
        raise Forbidden(_("You are not a member of this circle."), code="not_member")


def check_comment(membership: Membership | None, now: datetime | None = None) -> None:
    now = now or timezone.now()
    check_take_part(membership)
    if circle_rules.paid_membership_expired(membership, now):
        raise Forbidden(_("Your paid membership has expired; renew it to post again."), code="membership_expired")
    if membership.muted_until is not None and membership.muted_until > now:
        raise Forbidden(_("You are muted in this circle."), code="muted")


def can_delete_comment(membership: Membership | None, *, is_author: bool) -> bool:
    return circle_rules.is_active(membership) and (is_author or circle_rules.has_role(membership, Role.MODERATOR))


def check_delete_comment(membership: Membership | None, *, is_author: bool) -> None:
    check_take_part(membership)
    if not can_delete_comment(membership, is_author=is_author):
        raise Forbidden(_("Only the author or a moderator may delete this comment."), code="not_author")
