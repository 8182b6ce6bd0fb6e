"""Circles, membership, moderation, invites, join requests, the audit log and the channel.

Each endpoint: access helper (circle visible to the caller, else 404) → action (which
checks the rule from ``circles.rules``) → serialise. Listing endpoints that have no
action call the matching ``rules.check_*`` before reading.
"""

from __future__ import annotations

from typing import Literal

from django.http import HttpRequest
from ninja import File, Query, Router, Status
from ninja.files import UploadedFile

from quanzi.circles import actions, rules, selectors
from quanzi.circles.access import access_circle, access_join_request, get_membership
from quanzi.circles.models import Circle, Membership, MembershipStatus

from .auth import current_user
from .pagination import paginate
from .schemas import (
    AuditPage,
    CircleCreate,
    CircleDetailOut,
    CirclePage,
    CirclePatch,
    DecideIn,
    Id,
    InviteCreate,
    InviteOut,
    InvitePage,
    InvitePreviewOut,
    JoinIn,
    JoinRequestOut,
    JoinRequestPage,
    JoinResultOut,
    MemberOut,
    MemberPage,
    MuteIn,
    MyMembershipOut,
    PageParams,
    ReasonIn,
    RoleIn,
    StatsOut,
    TransferIn,
    errors_for,
)
from .serialize import (
    audit_out,
    circle_out,
    file_url,
    invite_out,
    join_request_out,
    member_out,
    my_membership_out,
)

router = Router(tags=["circles"])

RoleName = Literal["member", "moderator", "admin", "owner"]
StatusName = Literal["active", "left", "kicked", "banned"]
RequestStatusName = Literal["pending", "approved", "rejected", "cancelled"]


def member_circle(request: HttpRequest, slug: str) -> tuple[Circle, Membership]:
    """The circle and the caller's active membership; anyone else gets the same 404."""
    circle, membership = access_circle(slug, current_user(request), require_member=True)
    assert membership is not None
    return circle, membership


def _fresh_detail(circle_id: int, user) -> dict:
    circle = Circle.objects.get(id=circle_id)
    return circle_out(circle, get_membership(circle, user), detail=True)


# --- circles ------------------------------------------------------------------------------


@router.get("/circles", response=errors_for({200: CirclePage}))
def list_circles(
    request: HttpRequest,
    page: Query[PageParams],
    scope: Literal["mine", "public"] = "mine",
    q: str = "",
):
    """Circles you are an active member of (`mine`), or every listed public circle (`public`)."""
    user = current_user(request)
    if scope == "mine":
        return paginate(selectors.my_memberships(user, q=q), page, lambda m: circle_out(m.circle, m))
    result = paginate(selectors.public_circles(q=q), page, lambda c: c)
    mine = selectors.memberships_by_circle(user, [c.id for c in result["items"]])
    result["items"] = [circle_out(c, mine.get(c.id)) for c in result["items"]]
    return result


@router.post("/circles", response=errors_for({201: CircleDetailOut}))
def create_circle(request: HttpRequest, payload: CircleCreate):
    """Create a circle; you become its owner and it gets a main group (and optionally a channel)."""
    user = current_user(request)
    circle = actions.do_create_circle(
        owner=user,
        name=payload.name,
        slug=payload.slug,
        description=payload.description,
        rules_text=payload.rules_text,
        visibility=payload.visibility,
        join_mode=payload.join_mode,
        timezone_name=payload.timezone,
        language=payload.language,
        welcome_template=payload.welcome_template,
        with_channel=payload.with_channel,
    )
    return Status(201, _fresh_detail(circle.id, user))


@router.get("/circles/{slug}", response=errors_for({200: CircleDetailOut}))
def get_circle(request: HttpRequest, slug: str):
    """A public circle, or a private one you belong to."""
    circle, membership = access_circle(slug, current_user(request))
    return circle_out(circle, membership, detail=True)


@router.patch("/circles/{slug}", response=errors_for({200: CircleDetailOut}))
def update_circle(request: HttpRequest, slug: str, payload: CirclePatch):
    """Edit circle settings (admins). Omitted fields stay as they are."""
    user = current_user(request)
    circle, _membership = member_circle(request, slug)
    fields = payload.dict(exclude_unset=True)
    actions.do_update_circle(actor=user, circle=circle, **fields)
    return _fresh_detail(circle.id, user)


@router.post("/circles/{slug}/avatar", response=errors_for({200: CircleDetailOut}))
def upload_circle_avatar(request: HttpRequest, slug: str, file: File[UploadedFile]):
    """Set the circle's picture (admins; multipart field `file`): PNG, JPEG, GIF or WebP, stored as a PNG of
    at most 512×512 without metadata. Errors: `avatar_too_large`, `invalid_image`."""
    user = current_user(request)
    circle, _membership = member_circle(request, slug)
    actions.do_set_circle_avatar(actor=user, circle=circle, upload=file)
    return _fresh_detail(circle.id, user)


@router.delete("/circles/{slug}/avatar", response=errors_for({200: CircleDetailOut}))
def delete_circle_avatar(request: HttpRequest, slug: str):
    """Remove the circle's picture (admins)."""
    user = current_user(request)
    circle, _membership = member_circle(request, slug)
    actions.do_set_circle_avatar(actor=user, circle=circle, upload=None)
    return _fresh_detail(circle.id, user)


@router.get("/circles/{slug}/stats", response=errors_for({200: StatsOut}))
def circle_stats(request: HttpRequest, slug: str):
    """Admins: member count, channel follow rate, members by role."""
    circle, membership = member_circle(request, slug)
    rules.check_manage_circle(membership)
    stats = selectors.circle_stats(circle)
    return {
        "member_count": stats.member_count,
        "followers": stats.followers,
        "follow_rate": round(stats.follow.rate, 4) if stats.follow else 0.0,
        "by_role": stats.by_role,
    }


# --- joining and leaving ------------------------------------------------------------------


def _join_result(result: actions.JoinResult, circle_id: int, user) -> dict:
    return {
        "status": result.status,
        "circle": _fresh_detail(circle_id, user),
        "join_request": join_request_out(result.join_request) if result.join_request else None,
    }


@router.post("/circles/{slug}/join", response=errors_for({200: JoinResultOut}))
def join_circle(request: HttpRequest, slug: str, payload: JoinIn | None = None):
    """Join an open circle, or ask to join one that needs approval (`status`: joined / requested)."""
    user = current_user(request)
    circle, _membership = access_circle(slug, user)
    result = actions.do_join_circle(user=user, circle=circle, message=payload.message if payload else "")
    return _join_result(result, circle.id, user)


@router.get("/invites/{code}", auth=None, response=errors_for({200: InvitePreviewOut}))
def preview_invite(request: HttpRequest, code: str):
    """What an invite link leads to, and whether it still works. No sign-in needed."""
    invite = actions.access_invite(code)
    circle = invite.circle
    reason = invite.usable_reason()
    return {
        "code": invite.code,
        "circle": {
            "slug": circle.slug,
            "name": circle.name,
            "description": circle.description,
            "member_count": circle.member_count,
            "join_mode": circle.join_mode,
            "avatar": file_url(circle.avatar),
        },
        "usable": reason is None,
        "reason": reason,
    }


@router.post("/invites/{code}/accept", response=errors_for({200: JoinResultOut}))
def accept_invite(request: HttpRequest, code: str, payload: JoinIn | None = None):
    """Join through an invite (circles that need approval file a request instead)."""
    user = current_user(request)
    result = actions.do_accept_invite(user=user, code=code, message=payload.message if payload else "")
    circle_id = result.membership.circle_id if result.membership else result.join_request.circle_id
    return _join_result(result, circle_id, user)


@router.post("/circles/{slug}/leave", response=errors_for({200: CircleDetailOut}))
def leave_circle(request: HttpRequest, slug: str):
    user = current_user(request)
    circle, _membership = member_circle(request, slug)
    actions.do_leave_circle(user=user, circle=circle)
    return _fresh_detail(circle.id, user)


# --- members and moderation ---------------------------------------------------------------


@router.get("/circles/{slug}/members", response=errors_for({200: MemberPage}))
def list_members(
    request: HttpRequest,
    slug: str,
    page: Query[PageParams],
    role: RoleName | None = None,
    status: StatusName = "active",
    q: str = "",
):
    """Members by role (owner first). Listing former, kicked or banned members needs moderator."""
    circle, membership = member_circle(request, slug)
    if status != MembershipStatus.ACTIVE:
        rules.check_view_former_members(membership)
    return paginate(selectors.circle_members(circle, status=status, role=role, q=q), page, member_out)


@router.post("/circles/{slug}/members/{user_id}/role", response=errors_for({200: MemberOut}))
def set_role(request: HttpRequest, slug: str, user_id: Id, payload: RoleIn):
    circle, _m = member_circle(request, slug)
    target = actions.do_set_role(
        actor=current_user(request), circle=circle, user_id=user_id, role=payload.role, reason=payload.reason
    )
    return member_out(target)


@router.post("/circles/{slug}/members/{user_id}/mute", response=errors_for({200: MemberOut}))
def mute_member(request: HttpRequest, slug: str, user_id: Id, payload: MuteIn):
    """Mute for `minutes`: the member keeps reading but cannot post."""
    circle, _m = member_circle(request, slug)
    target = actions.do_mute_member(
        actor=current_user(request), circle=circle, user_id=user_id, minutes=payload.minutes, reason=payload.reason
    )
    return member_out(target)


@router.post("/circles/{slug}/members/{user_id}/unmute", response=errors_for({200: MemberOut}))
def unmute_member(request: HttpRequest, slug: str, user_id: Id, payload: ReasonIn | None = None):
    circle, _m = member_circle(request, slug)
    target = actions.do_unmute_member(
        actor=current_user(request), circle=circle, user_id=user_id, reason=payload.reason if payload else ""
    )
    return member_out(target)


@router.post("/circles/{slug}/members/{user_id}/kick", response=errors_for({200: MemberOut}))
def kick_member(request: HttpRequest, slug: str, user_id: Id, payload: ReasonIn | None = None):
    """Remove the member; they may rejoin."""
    circle, _m = member_circle(request, slug)
    target = actions.do_kick_member(
        actor=current_user(request), circle=circle, user_id=user_id, reason=payload.reason if payload else ""
    )
    return member_out(target)


@router.post("/circles/{slug}/members/{user_id}/ban", response=errors_for({200: MemberOut}))
def ban_member(request: HttpRequest, slug: str, user_id: Id, payload: ReasonIn | None = None):
    """Remove the member and keep them out (invites, requests and open joins all refuse)."""
    circle, _m = member_circle(request, slug)
    target = actions.do_ban_member(
        actor=current_user(request), circle=circle, user_id=user_id, reason=payload.reason if payload else ""
    )
    return member_out(target)


@router.post("/circles/{slug}/members/{user_id}/unban", response=errors_for({200: MemberOut}))
def unban_member(request: HttpRequest, slug: str, user_id: Id, payload: ReasonIn | None = None):
    circle, _m = member_circle(request, slug)
    target = actions.do_unban_member(
        actor=current_user(request), circle=circle, user_id=user_id, reason=payload.reason if payload else ""
    )
    return member_out(target)


@router.post("/circles/{slug}/transfer-ownership", response=errors_for({200: MemberOut}))
def transfer_ownership(request: HttpRequest, slug: str, payload: TransferIn):
    """Owner only: make another active member the owner; you stay on as an admin."""
    circle, _m = member_circle(request, slug)
    target = actions.do_transfer_ownership(
        actor=current_user(request), circle=circle, user_id=payload.user_id, reason=payload.reason
    )
    return member_out(target)


# --- invites ------------------------------------------------------------------------------


@router.get("/circles/{slug}/invites", response=errors_for({200: InvitePage}))
def list_invites(request: HttpRequest, slug: str, page: Query[PageParams], include_revoked: bool = False):
    circle, membership = member_circle(request, slug)
    rules.check_manage_circle(membership)
    return paginate(selectors.circle_invites(circle, include_revoked=include_revoked), page, invite_out)


@router.post("/circles/{slug}/invites", response=errors_for({201: InviteOut}))
def create_invite(request: HttpRequest, slug: str, payload: InviteCreate):
    circle, _m = member_circle(request, slug)
    invite = actions.do_create_invite(
        actor=current_user(request),
        circle=circle,
        expires_in_hours=payload.expires_in_hours,
        max_uses=payload.max_uses,
        note=payload.note,
    )
    return Status(201, invite_out(invite))


@router.delete("/circles/{slug}/invites/{invite_id}", response=errors_for({200: InviteOut}))
def revoke_invite(request: HttpRequest, slug: str, invite_id: Id):
    circle, _m = member_circle(request, slug)
    invite = actions.do_revoke_invite(actor=current_user(request), circle=circle, invite_id=invite_id)
    return invite_out(invite)


# --- join requests ------------------------------------------------------------------------


@router.get("/circles/{slug}/join-requests", response=errors_for({200: JoinRequestPage}))
def list_join_requests(
    request: HttpRequest, slug: str, page: Query[PageParams], status: RequestStatusName = "pending"
):
    """Moderators: requests to join, oldest first."""
    circle, membership = member_circle(request, slug)
    rules.check_decide_join_requests(membership)
    return paginate(selectors.join_requests(circle, status=status), page, join_request_out)


def _decide(request: HttpRequest, slug: str, request_id: Id, *, approve: bool, reason: str) -> dict:
    circle, _m = member_circle(request, slug)
    # The action looks the request up by id alone; keep ids of other circles unreachable here.
    join_request = access_join_request(circle, request_id)
    decided = actions.do_decide_join_request(
        actor=current_user(request), request_id=join_request.id, approve=approve, reason=reason
    )
    return join_request_out(decided)


@router.post("/circles/{slug}/join-requests/{request_id}/approve", response=errors_for({200: JoinRequestOut}))
def approve_join_request(request: HttpRequest, slug: str, request_id: Id, payload: DecideIn | None = None):
    return _decide(request, slug, request_id, approve=True, reason=payload.reason if payload else "")


@router.post("/circles/{slug}/join-requests/{request_id}/reject", response=errors_for({200: JoinRequestOut}))
def reject_join_request(request: HttpRequest, slug: str, request_id: Id, payload: DecideIn | None = None):
    return _decide(request, slug, request_id, approve=False, reason=payload.reason if payload else "")


# --- audit log ----------------------------------------------------------------------------


@router.get("/circles/{slug}/audit", response=errors_for({200: AuditPage}))
def audit_log(
    request: HttpRequest,
    slug: str,
    page: Query[PageParams],
    action: str = "",
    actor: str = "",
    target: str = "",
):
    """Admins: management actions, newest first. `action` ending in `.` matches a prefix
    (`member.`); `actor` / `target` take a user id or username."""
    circle, membership = member_circle(request, slug)
    rules.check_read_audit(membership)
    return paginate(selectors.audit_entries(circle, action=action, actor=actor, target=target), page, audit_out)


# --- the announcement channel and onboarding ----------------------------------------------


@router.post("/circles/{slug}/channel/follow", response=errors_for({200: MyMembershipOut}))
def follow_channel(request: HttpRequest, slug: str):
    """Get a notice for every announcement."""
    circle, _m = member_circle(request, slug)
    return my_membership_out(actions.do_set_channel_follow(user=current_user(request), circle=circle, follow=True))


@router.delete("/circles/{slug}/channel/follow", response=errors_for({200: MyMembershipOut}))
def unfollow_channel(request: HttpRequest, slug: str):
    circle, _m = member_circle(request, slug)
    return my_membership_out(
        actions.do_set_channel_follow(user=current_user(request), circle=circle, follow=False)
    )


@router.post("/circles/{slug}/onboarding/finish", response=errors_for({200: MyMembershipOut}))
def finish_onboarding(request: HttpRequest, slug: str):
    """Skip the follow step of onboarding (following stays possible later)."""
    circle, _m = member_circle(request, slug)
    return my_membership_out(actions.do_finish_onboarding(user=current_user(request), circle=circle))
