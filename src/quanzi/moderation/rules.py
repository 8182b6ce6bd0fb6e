"""Who may do what in moderation, and what each trust level unlocks — the one module for both.

Roles come from ``quanzi.circles.rules``. Trust levels (Discourse style) are earned per circle:

=========  ==========================================================  ==============================
level      earned when (all of)                                        unlocks
=========  ==========================================================  ==============================
newcomer   joining                                                     text; at most 2 @mentions
basic      in the circle for the policy's ``newcomer_link_hours``      links, more @mentions, DMs
           (24 h by default)
member     7 days in the circle, 20 accepted messages/posts/comments,  images and files in posts
           active on 3 different days
regular    30 days, 100 accepted messages, 10 active days, no strike   scores in the hold band are
           in the policy's strike window                               not held (only the delete band)
=========  ==========================================================  ==============================

Content a level has not unlocked yet is held for review rather than refused (a moderator may
let it through); starting a DM is refused. Moderators, admins and the owner are not screened.
An admin may set a level by hand, which locks it (no automatic change until unlocked).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils.translation import gettext as _

from quanzi.circles import rules as circle_rules
from quanzi.circles.models import Membership, Role
from quanzi.core.errors import Forbidden

from .models import TrustLevel

NEWCOMER_MAX_MENTIONS = 2
MEMBER_DAYS, MEMBER_MESSAGES, MEMBER_ACTIVE_DAYS = 7, 20, 3
REGULAR_DAYS, REGULAR_MESSAGES, REGULAR_ACTIVE_DAYS = 30, 100, 10


def earned_level(
    *, joined_at: datetime | None, messages: int, active_days: int, newcomer_hours: int, now: datetime,
    has_recent_strike: bool = False,
) -> int:
    """The level a member's time and activity earn (before any admin lock)."""
    if joined_at is None:
        return TrustLevel.NEWCOMER
    age = now - joined_at
    if age < timedelta(hours=newcomer_hours):
        return TrustLevel.NEWCOMER
    if age >= timedelta(days=REGULAR_DAYS) and messages >= REGULAR_MESSAGES and active_days >= REGULAR_ACTIVE_DAYS:
        if not has_recent_strike:
            return TrustLevel.REGULAR
    if age >= timedelta(days=MEMBER_DAYS) and messages >= MEMBER_MESSAGES and active_days >= MEMBER_ACTIVE_DAYS:
        return TrustLevel.MEMBER
    return TrustLevel.BASIC


def may_post_links(level: int) -> bool:
    return level >= TrustLevel.BASIC


def may_post_images(level: int) -> bool:
    return level >= TrustLevel.MEMBER


def may_mention(level: int, count: int) -> bool:
    return level >= TrustLevel.BASIC or count <= NEWCOMER_MAX_MENTIONS


def may_start_dm(level: int) -> bool:
    return level >= TrustLevel.BASIC


def skips_hold_band(level: int) -> bool:
    return level >= TrustLevel.REGULAR


def is_screened(membership: Membership | None) -> bool:
    """Moderators and up are trusted with the circle; their content is never held."""
    return not circle_rules.has_role(membership, Role.MODERATOR)


def check_can_start_dm(membership: Membership | None, *, target: Membership | None = None) -> None:
    """Starting a direct message: newcomers wait until they are basic members (spam DMs hit new members first),
    except to the circle's moderators and admins (asking them for help must always work)."""
    if not is_screened(membership) or (target is not None and not is_screened(target)):
        return
    from .trust import level_for

    if membership is None or not may_start_dm(level_for(membership)):
        raise Forbidden(
            _("New members can send direct messages after they have been in the circle for a while."),
            code="trust_level_too_low",
        )


def check_review(membership: Membership | None) -> None:
    """The review queue and its decisions: moderators and up."""
    circle_rules.require_role(membership, Role.MODERATOR)


def can_review(membership: Membership | None) -> bool:
    return circle_rules.has_role(membership, Role.MODERATOR)


def check_manage_policy(membership: Membership | None) -> None:
    """Changing the circle's moderation settings: admins and the owner."""
    circle_rules.require_role(membership, Role.ADMIN)


def can_manage_policy(membership: Membership | None) -> bool:
    return circle_rules.has_role(membership, Role.ADMIN)


def check_set_trust(actor: Membership | None, target: Membership) -> None:
    """Setting a member's trust level by hand: admins, on members ranked below them."""
    circle_rules.check_acts_on(actor, target, minimum=Role.ADMIN)


def check_report(membership: Membership | None) -> None:
    if not circle_rules.is_active(membership):
        raise Forbidden(_("You are not a member of this circle."), code="not_member")
