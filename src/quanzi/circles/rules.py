"""Who may do what to whom in a circle: the one permission module.

Web views, the REST API and the WebSocket consumer all call these checks, so a rule is
written once. Each ``check_*`` raises :class:`Forbidden` with a stable code; each
``can_*`` is the boolean form for templates and listings.

The table (also in docs/permissions.md):

============================  ======  =====  =========  ======
action                        member  mod    admin      owner
============================  ======  =====  =========  ======
read groups, members, post    yes     yes    yes        yes
@all                          no      no     yes        yes
pin, mute-all, slow mode      no      yes    yes        yes
approve/reject join requests  no      yes    yes        yes
mute / unmute / kick / ban    no      lower  lower      anyone
unban                         no      yes    yes        yes
list former / banned members  no      yes    yes        yes
set role                      no      no     ≤mod,lower anyone
edit circle, invites, groups  no      no     yes        yes
read audit log                no      no     yes        yes
transfer ownership            no      no     no         yes
============================  ======  =====  =========  ======

"lower" means a target whose role ranks strictly below the actor's: nobody acts on an
equal or higher role, except the owner, who may act on anyone but themself.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone
from django.utils.translation import gettext as _

from quanzi.core.errors import Forbidden

from .models import ROLE_RANK, Membership, MembershipStatus, Role


def rank(role: str) -> int:
    try:
        return ROLE_RANK[role]  # Role is a str enum: a plain role string finds its member's entry
    except KeyError:
        return ROLE_RANK[Role(role)]  # ValueError for a role that doesn't exist, as before


def is_active(membership: Membership | None) -> bool:
    return membership is not None and membership.status == MembershipStatus.ACTIVE


def has_role(membership: Membership | None, minimum: Role) -> bool:
    return is_active(membership) and rank(membership.role) >= rank(minimum)


def require_role(membership: Membership | None, minimum: Role) -> None:
    if not is_active(membership):
        raise Forbidden(_("You are not a member of this circle."), code="not_member")
    if rank(membership.role) < rank(minimum):
        raise Forbidden(
            _("This needs the %(role)s role or higher.") % {"role": Role(minimum).label},
            code="insufficient_role",
        )


def check_acts_on(actor: Membership | None, target: Membership, *, minimum: Role = Role.MODERATOR) -> None:
    """Actor needs ``minimum`` and must outrank the target (the owner outranks everyone)."""
    require_role(actor, minimum)
    if actor.user_id == target.user_id:
        raise Forbidden(_("You cannot do this to yourself."), code="self_action")
    if rank(target.role) >= rank(actor.role):
        raise Forbidden(
            _("You cannot act on a member whose role is equal to or higher than yours."), code="higher_role"
        )


def can_act_on(actor: Membership | None, target: Membership, *, minimum: Role = Role.MODERATOR) -> bool:
    try:
        check_acts_on(actor, target, minimum=minimum)
    except Forbidden:
        return False
    return True


def check_set_role(actor: Membership | None, target: Membership, new_role: Role) -> None:
    # The permission check comes first: only someone allowed to change this role gets the hint.
    check_acts_on(actor, target, minimum=Role.ADMIN)
    if new_role == Role.OWNER:
        raise Forbidden(_("Use ownership transfer to make someone the owner."), code="use_transfer")
    if actor.role != Role.OWNER and rank(new_role) >= rank(actor.role):
        raise Forbidden(_("You can only appoint roles below your own."), code="higher_role")


def check_mute(actor: Membership | None, target: Membership) -> None:
    check_acts_on(actor, target, minimum=Role.MODERATOR)


def check_kick(actor: Membership | None, target: Membership) -> None:
    check_acts_on(actor, target, minimum=Role.MODERATOR)


def check_ban(actor: Membership | None, target: Membership) -> None:
    check_acts_on(actor, target, minimum=Role.MODERATOR)


def check_unban(actor: Membership | None) -> None:
    require_role(actor, Role.MODERATOR)


def check_view_former_members(actor: Membership | None) -> None:
    """List members who left, were kicked or are banned: moderators need it to unban."""
    require_role(actor, Role.MODERATOR)


def can_view_former_members(actor: Membership | None) -> bool:
    try:
        check_view_former_members(actor)
    except Forbidden:
        return False
    return True


def check_manage_circle(actor: Membership | None) -> None:
    """Edit settings, manage invites and groups."""
    require_role(actor, Role.ADMIN)


def check_read_audit(actor: Membership | None) -> None:
    require_role(actor, Role.ADMIN)


def check_decide_join_requests(actor: Membership | None) -> None:
    require_role(actor, Role.MODERATOR)


def check_moderate_group(actor: Membership | None) -> None:
    """Pins, mute-all and slow mode."""
    require_role(actor, Role.MODERATOR)


def check_transfer_ownership(actor: Membership | None, target: Membership) -> None:
    require_role(actor, Role.OWNER)
    if not is_active(target):
        raise Forbidden(_("The new owner must be an active member."), code="not_member")
    if target.user_id == actor.user_id:
        raise Forbidden(_("You already own this circle."), code="self_action")


def check_leave(membership: Membership | None) -> None:
    if not is_active(membership):
        raise Forbidden(_("You are not a member of this circle."), code="not_member")
    if membership.role == Role.OWNER:
        raise Forbidden(_("The owner must transfer ownership before leaving."), code="owner_cannot_leave")


def paid_membership_expired(membership: Membership | None, now: datetime | None = None) -> bool:
    """A paid membership whose paid-through date has passed (lifetime and free ones have none).

    Such a member reads but cannot post: with the circle's expiry action ``read_only`` until
    they renew, with ``remove`` until the expiry task removes them.
    """
    return membership is not None and membership.paid_until is not None and membership.paid_until <= (
        now or timezone.now()
    )


def check_manage_payments(actor: Membership | None) -> None:
    """Price plans, payment settings, confirming manual payments, the revenue page (admins and owner)."""
    require_role(actor, Role.ADMIN)


def check_request_payout(actor: Membership | None) -> None:
    """Only the owner asks for the circle's revenue to be paid out."""
    require_role(actor, Role.OWNER)


def check_refund_order(actor: Membership | None, *, is_payer: bool, within_window: bool) -> None:
    """The payer, or a circle admin, may refund a payment while its refund window is open."""
    if not is_payer:
        require_role(actor, Role.ADMIN)
    if not within_window:
        raise Forbidden(_("The refund window for this payment has passed."), code="refund_window_passed")


def check_instance_staff(user) -> None:
    """Marking payouts paid or rejected is for the instance's staff, not any circle role."""
    if user is None or not getattr(user, "is_active", False) or not getattr(user, "is_staff", False):
        raise Forbidden(_("Only the instance's staff may do this."), code="staff_only")


def check_mention_all(actor: Membership | None) -> None:
    if not has_role(actor, Role.ADMIN):
        raise Forbidden(_("Only admins and the owner may use @all."), code="mention_all_forbidden")


def check_can_post(
    actor: Membership | None,
    *,
    group_kind: str,
    group_mute_all: bool,
    now: datetime | None = None,
) -> None:
    """Posting in a group (slow mode is checked by the action, which knows the last post)."""
    now = now or timezone.now()
    if not is_active(actor):
        raise Forbidden(_("You are not a member of this circle."), code="not_member")
    if group_kind == "channel" and not has_role(actor, Role.ADMIN):
        raise Forbidden(_("Only admins post in the announcement channel."), code="channel_admins_only")
    if paid_membership_expired(actor, now):
        raise Forbidden(_("Your paid membership has expired; renew it to post again."), code="membership_expired")
    if actor.muted_until is not None and actor.muted_until > now:
        local = timezone.localtime(actor.muted_until)
        raise Forbidden(
            _("You are muted until %(until)s.") % {"until": local.strftime("%Y-%m-%d %H:%M %Z")},
            code="muted",
        )
    if group_mute_all and not has_role(actor, Role.MODERATOR):
        raise Forbidden(_("Only moderators may post here right now (mute-all is on)."), code="mute_all")


def slow_mode_applies(actor: Membership) -> bool:
    return not has_role(actor, Role.MODERATOR)


def check_edit_message(actor: Membership | None, *, is_author: bool, within_window: bool) -> None:
    if not is_active(actor):
        raise Forbidden(_("You are not a member of this circle."), code="not_member")
    if not is_author:
        raise Forbidden(_("Only the author can edit a message."), code="not_author")
    if not within_window:
        raise Forbidden(_("The time to edit this message has passed."), code="edit_window_passed")


def check_delete_message(
    actor: Membership | None, *, is_author: bool, within_window: bool, author_membership: Membership | None
) -> None:
    if not is_active(actor):
        raise Forbidden(_("You are not a member of this circle."), code="not_member")
    if is_author and within_window:
        return
    if has_role(actor, Role.MODERATOR):
        if author_membership is None or is_author or rank(author_membership.role) < rank(actor.role) or (
            actor.role == Role.OWNER
        ):
            return
        raise Forbidden(
            _("You cannot delete messages of a member whose role is equal to or higher than yours."),
            code="higher_role",
        )
    if is_author:
        raise Forbidden(_("The time to delete this message has passed."), code="edit_window_passed")
    raise Forbidden(_("Only the author or a moderator can delete a message."), code="not_author")


# --- direct messages (docs/dms.md) --------------------------------------------------------


def check_start_dm(
    policy: str,
    actor: Membership | None,
    target: Membership | None,
    *,
    actor_blocked_target: bool = False,
    target_blocked_actor: bool = False,
) -> None:
    """May ``actor`` message ``target`` directly in this circle (``policy`` is ``Circle.dm_policy``)?

    The same rule governs every message of an existing conversation, so a policy change,
    a block, a demotion or a member leaving stops new messages at once.
    "members": any two active members; "admins": one of the two must be a moderator or
    above (members may message the circle's staff, staff may message anyone); "off": nobody.
    """
    if not is_active(actor):
        raise Forbidden(_("You are not a member of this circle."), code="not_member")
    if target is not None and target.user_id == actor.user_id:
        raise Forbidden(_("You cannot send a direct message to yourself."), code="dm_self")
    if not is_active(target):
        raise Forbidden(_("This person is not a member of this circle."), code="dm_not_member")
    if policy == "off":
        raise Forbidden(_("Direct messages are turned off in this circle."), code="dm_off")
    if policy == "admins" and not (has_role(actor, Role.MODERATOR) or has_role(target, Role.MODERATOR)):
        raise Forbidden(
            _("In this circle, members may only send direct messages to admins and moderators."),
            code="dm_admins_only",
        )
    if policy not in ("members", "admins"):
        raise Forbidden(_("Direct messages are turned off in this circle."), code="dm_off")
    if actor_blocked_target:
        raise Forbidden(_("You blocked this person. Unblock them to send messages."), code="dm_blocked")
    if target_blocked_actor:
        raise Forbidden(_("You can't message this person."), code="dm_blocked")


def can_start_dm(
    policy: str,
    actor: Membership | None,
    target: Membership | None,
    *,
    actor_blocked_target: bool = False,
    target_blocked_actor: bool = False,
) -> bool:
    try:
        check_start_dm(policy, actor, target, actor_blocked_target=actor_blocked_target,
                       target_blocked_actor=target_blocked_actor)
    except Forbidden:
        return False
    return True
