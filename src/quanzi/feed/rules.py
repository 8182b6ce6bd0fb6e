"""Who may read, write and manage what in a circle's feed: the one permission module of the feed.

Web views, the REST API and the archive (files attached to posts) all ask these functions.
Circle roles come from ``quanzi.circles.rules``. Each ``check_*`` raises :class:`Forbidden`
with a stable code; ``can_*`` are the boolean forms for templates.

==============================  ======================  =========  =====  ===========
action                          member                  moderator  admin  owner
==============================  ======================  =========  =====  ===========
read the feed                   yes (see visibility)    all        all    all
publish a post                  if members_can_post     yes        yes    yes
comment, reply, like            yes                     yes        yes    yes
edit own post / comment         yes                     yes        yes    yes
delete own post / comment       yes                     yes        yes    yes
delete others' posts/comments   no                      lower      lower  anyone
pin / feature posts             no                      no         yes    yes
see held/removed items          own held ones           all        all    all
==============================  ======================  =========  =====  ===========

Visibility of a post: ``members`` (every active member), ``moderators`` (moderators and up),
``plan`` (holders of the post's paid plan, see :func:`held_plan_ids`). Authors always see their
own posts; moderators and up see everything. Muted members and paid members whose membership
has expired read but do not write (the chat rules' meaning of mute and expiry).
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from quanzi.chat.models import ModerationState
from quanzi.circles import rules as circle_rules
from quanzi.circles.models import Circle, Membership, Role
from quanzi.core.errors import Forbidden

from .models import PostVisibility


def is_member(membership: Membership | None) -> bool:
    return circle_rules.is_active(membership)


def is_moderator(membership: Membership | None) -> bool:
    return circle_rules.has_role(membership, Role.MODERATOR)


def is_admin(membership: Membership | None) -> bool:
    return circle_rules.has_role(membership, Role.ADMIN)


def check_read(membership: Membership | None) -> None:
    if not is_member(membership):
        raise Forbidden(_("You are not a member of this circle."), code="not_member")


def _check_can_write(membership: Membership | None, now: datetime | None = None) -> None:
    """Shared by posts, comments and likes: active, not expired, not muted."""
    now = now or timezone.now()
    check_read(membership)
    if circle_rules.paid_membership_expired(membership, now):
        raise Forbidden(_("Your paid membership has expired; renew it to post again."), code="membership_expired")
    if membership.is_muted(now):
        local = timezone.localtime(membership.muted_until)
        raise Forbidden(
            _("You are muted until %(until)s.") % {"until": local.strftime("%Y-%m-%d %H:%M %Z")}, code="muted"
        )


def check_create_post(membership: Membership | None, circle: Circle, now: datetime | None = None) -> None:
    _check_can_write(membership, now)
    if not circle.members_can_post and not is_moderator(membership):
        raise Forbidden(_("In this circle only moderators and admins publish posts."), code="posting_restricted")


def can_create_post(membership: Membership | None, circle: Circle) -> bool:
    try:
        check_create_post(membership, circle)
    except Forbidden:
        return False
    return True


def check_choose_visibility(membership: Membership | None, visibility: str) -> None:
    """Members may restrict a post to moderators or to a plan; nothing more is needed today."""
    check_read(membership)


def check_comment(membership: Membership | None, now: datetime | None = None) -> None:
    _check_can_write(membership, now)


def can_comment(membership: Membership | None) -> bool:
    try:
        check_comment(membership)
    except Forbidden:
        return False
    return True


def check_like(membership: Membership | None, now: datetime | None = None) -> None:
    check_read(membership)
    if circle_rules.paid_membership_expired(membership, now or timezone.now()):
        raise Forbidden(_("Your paid membership has expired; renew it to post again."), code="membership_expired")


def check_edit(membership: Membership | None, *, is_author: bool) -> None:
    _check_can_write(membership)
    if not is_author:
        raise Forbidden(_("Only the author can edit this."), code="not_author")


def check_delete(membership: Membership | None, *, is_author: bool, author_membership: Membership | None) -> None:
    """Authors delete their own; moderators and up delete those of lower roles (the owner: anyone's)."""
    check_read(membership)
    if is_author:
        return
    if not is_moderator(membership):
        raise Forbidden(_("Only the author or a moderator can delete this."), code="not_author")
    if membership.role == Role.OWNER or author_membership is None:
        return
    if circle_rules.rank(author_membership.role) >= circle_rules.rank(membership.role):
        raise Forbidden(
            _("You cannot delete content of a member whose role is equal to or higher than yours."),
            code="higher_role",
        )


def can_delete(membership: Membership | None, *, is_author: bool, author_role: str | None) -> bool:
    """The boolean form for listings, which know the author's role but have no membership row."""
    if not is_member(membership):
        return False
    if is_author:
        return True
    if not is_moderator(membership):
        return False
    if membership.role == Role.OWNER or author_role is None:
        return True
    return circle_rules.rank(author_role) < circle_rules.rank(membership.role)


def check_pin(membership: Membership | None) -> None:
    circle_rules.require_role(membership, Role.ADMIN)


def check_feature(membership: Membership | None) -> None:
    circle_rules.require_role(membership, Role.ADMIN)


# --- reading: which posts and comments a viewer sees ---------------------------------------


def held_plan_ids(membership: Membership | None, now: datetime | None = None) -> frozenset[int]:
    """Paid plans the member holds now.

    Memberships record only a paid-through date, not a plan, so "holds plan P" is read from the
    orders: a paid (not refunded) order for P in this circle whose granted period has not ended
    (``granted_until`` in the future, or none: a lifetime purchase), while the membership itself is
    active and not expired. One query.
    """
    if not _may_hold_plans(membership, now):
        return frozenset()
    from .fastsql import held_plan_ids as held

    return held(membership.user_id, membership.circle_id, now or timezone.now())


def held_plans(membership: Membership | None, order_plan_ids: frozenset[int], now: datetime | None = None
               ) -> frozenset[int]:
    """:func:`held_plan_ids` when the orders' plans were read with the membership (the feed's fast path)."""
    return order_plan_ids if _may_hold_plans(membership, now) else frozenset()


def _may_hold_plans(membership: Membership | None, now: datetime | None) -> bool:
    """Plans count only for an active member whose paid membership has not expired."""
    return is_member(membership) and not circle_rules.paid_membership_expired(membership, now)


class Viewer:
    """Everything visibility decisions need about one reader, computed once per request."""

    __slots__ = ("membership", "user_id", "moderator", "admin", "plan_ids")

    def __init__(self, membership: Membership | None, plan_ids: frozenset[int] | None = None) -> None:
        self.membership = membership
        self.user_id = membership.user_id if membership is not None else None
        self.moderator = is_moderator(membership)
        self.admin = is_admin(membership)
        if plan_ids is None:
            plan_ids = frozenset() if self.moderator else held_plan_ids(membership)
        self.plan_ids = plan_ids

    @property
    def active(self) -> bool:
        return is_member(self.membership)


def post_filter(viewer: Viewer, prefix: str = "") -> Q:
    """The Q a post must match for the viewer to see it (callers also exclude deleted ones)."""
    p = prefix
    if not viewer.active:
        return Q(pk__in=[])
    if viewer.moderator:
        return Q()
    mine = Q(**{f"{p}author_id": viewer.user_id})
    shown = Q(**{f"{p}moderation_state": ModerationState.VISIBLE}) & (
        Q(**{f"{p}visibility": PostVisibility.MEMBERS})
        | Q(**{f"{p}visibility": PostVisibility.PLAN, f"{p}plan_id__in": sorted(viewer.plan_ids)})
    )
    own_held = mine & ~Q(**{f"{p}moderation_state": ModerationState.REMOVED})
    return shown | own_held


def can_view_post_fields(viewer: Viewer, *, author_id: int | None, visibility: str, plan_id: int | None,
                         moderation_state: str, deleted: bool) -> bool:
    """The Python twin of :func:`post_filter` (plus soft deletion), for one loaded post."""
    if not viewer.active or deleted:
        return False
    if viewer.moderator:
        return True
    if author_id is not None and author_id == viewer.user_id:
        return moderation_state != ModerationState.REMOVED
    if moderation_state != ModerationState.VISIBLE:
        return False
    if visibility == PostVisibility.MEMBERS:
        return True
    if visibility == PostVisibility.PLAN:
        return plan_id is not None and plan_id in viewer.plan_ids
    return False


def comment_filter(viewer: Viewer) -> Q:
    if viewer.moderator:
        return Q()
    return Q(moderation_state=ModerationState.VISIBLE) | (
        Q(author_id=viewer.user_id) & ~Q(moderation_state=ModerationState.REMOVED)
    )
