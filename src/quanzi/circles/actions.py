"""The only writers of circles, memberships, invites and join requests.

Every action is one transaction: load and lock what it changes, check the rule from
``rules``, write, record the audit row, emit the domain event (published on commit).
"""

from __future__ import annotations

import functools
import re
import string
import zoneinfo
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from quanzi.chat import actions as chat_actions
from quanzi.chat.models import GroupKind, GroupMember, NoticeKind
from quanzi.core import audit
from quanzi.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from quanzi.core.events import EventType, emit
from quanzi.core.ids import as_db_id
from quanzi.core.images import reencode_image

from . import rules
from .models import (
    Circle,
    DmPolicy,
    Invite,
    JoinMode,
    JoinRequest,
    JoinRequestStatus,
    Membership,
    MembershipStatus,
    Role,
    Visibility,
)


@functools.cache
def known_timezones() -> frozenset[str]:
    """zoneinfo.available_timezones() walks the tz database on disk (~15 ms); once per process is enough."""
    return frozenset(zoneinfo.available_timezones())


SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
RESERVED_SLUGS = {"new", "api", "admin", "accounts", "static", "media", "join", "me", "ws"}
MAX_MUTE = timedelta(days=365)


def _member_brief(membership: Membership) -> dict:
    user = membership.user
    return {
        "user": {"id": user.id, "username": user.username, "name": user.name},
        "role": membership.role,
        "status": membership.status,
        "muted_until": membership.muted_until.isoformat() if membership.muted_until else None,
    }


def _lock_membership(circle: Circle, user) -> Membership | None:
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return Membership.objects.select_for_update().filter(circle=circle, user=user).select_related("user").first()


def _lock_target(circle: Circle, user_id: int, *, actor: Membership | None, minimum: Role) -> Membership:
    """The target's membership row (any status), once the actor is known to hold ``minimum``.

    The role comes first: someone without the right must not learn from a 404 versus a 403
    whether a user id ever belonged to the circle.
    """
    rules.require_role(actor, minimum)
    if as_db_id(user_id) is None:
        raise NotFound(_("No such member."), code="member_not_found")
    target = (
        Membership.objects.select_for_update().select_related("user").filter(circle=circle, user_id=user_id).first()
    )
    if target is None:
        raise NotFound(_("No such member."), code="member_not_found")
    return target


def _validate_circle_fields(fields: dict) -> dict:
    clean: dict = {}
    if "name" in fields:
        name = (fields["name"] or "").strip()
        if not name or len(name) > 80:
            raise InvalidInput(_("A circle name needs 1 to 80 characters."), code="invalid_name")
        clean["name"] = name
    for key, limit in (("description", 2000), ("rules_text", 5000), ("welcome_template", 2000)):
        if key in fields and fields[key] is not None:
            value = str(fields[key]).strip()
            if len(value) > limit:
                raise InvalidInput(
                    _("%(field)s can be at most %(limit)d characters.") % {"field": key, "limit": limit},
                    code=f"invalid_{key}",
                )
            clean[key] = value
    if fields.get("visibility") is not None:
        if fields["visibility"] not in Visibility.values:
            raise InvalidInput(_("Visibility must be public or private."), code="invalid_visibility")
        clean["visibility"] = fields["visibility"]
    if fields.get("join_mode") is not None:
        if fields["join_mode"] not in JoinMode.values:
            raise InvalidInput(_("Join mode must be open, invite or approval."), code="invalid_join_mode")
        clean["join_mode"] = fields["join_mode"]
    if fields.get("timezone") is not None:
        if fields["timezone"] not in known_timezones():
            raise InvalidInput(_("Unknown time zone."), code="invalid_timezone")
        clean["timezone"] = fields["timezone"]
    if fields.get("language") is not None:
        if fields["language"] not in dict(settings.LANGUAGES):
            raise InvalidInput(_("Unsupported language."), code="invalid_language")
        clean["language"] = fields["language"]
    if fields.get("dm_policy") is not None:
        if fields["dm_policy"] not in DmPolicy.values:
            raise InvalidInput(_("Direct messages must be members, admins or off."), code="invalid_dm_policy")
        clean["dm_policy"] = fields["dm_policy"]
    if fields.get("members_can_post") is not None:
        clean["members_can_post"] = bool(fields["members_can_post"])
    if fields.get("upload_limit_mb") is not None:
        limit = fields["upload_limit_mb"]
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= settings.QUANZI_UPLOAD_MAX_MB:
            raise InvalidInput(
                _("The largest upload must be between 1 and %(max)d MB.") % {"max": settings.QUANZI_UPLOAD_MAX_MB},
                code="invalid_upload_limit",
            )
        clean["upload_limit_mb"] = limit
    if "welcome_template" in clean:
        try:
            _check_welcome_template(clean["welcome_template"])
        except ValueError:
            raise InvalidInput(
                _("The welcome message may only use the placeholders {name}, {circle} and {rules}."),
                code="invalid_welcome_template",
            )
    return clean


WELCOME_PLACEHOLDERS = frozenset({"name", "circle", "rules"})


def _check_welcome_template(template: str) -> None:
    """Only bare ``{name}``, ``{circle}``, ``{rules}``: str.format would otherwise allow
    attribute lookups (``{name.__class__}``) and huge paddings (``{name:>999999999}``)."""
    for _literal, field, spec, conversion in string.Formatter().parse(template):
        if field is not None and (field not in WELCOME_PLACEHOLDERS or spec or conversion):
            raise ValueError(field)


def render_welcome(template: str, *, name: str, circle: str, rules: str) -> str:
    return template.format_map({"name": name, "circle": circle, "rules": rules or ""})


def _unique_slug(base: str) -> str:
    base = slugify(base)[:50].strip("-") or "circle"
    if base in RESERVED_SLUGS:
        base = f"{base}-circle"
    slug, n = base, 2
    while Circle.objects.filter(slug=slug).exists():
        slug = f"{base}-{n}"
        n += 1
    return slug


@transaction.atomic
def do_create_circle(
    *,
    owner,
    name: str,
    slug: str | None = None,
    description: str = "",
    rules_text: str = "",
    visibility: str = Visibility.PUBLIC,
    join_mode: str = JoinMode.OPEN,
    timezone_name: str = "UTC",
    language: str = "en",
    welcome_template: str | None = None,
    with_channel: bool = False,
) -> Circle:
    fields = _validate_circle_fields(
        {
            "name": name,
            "description": description,
            "rules_text": rules_text,
            "visibility": visibility,
            "join_mode": join_mode,
            "timezone": timezone_name,
            "language": language,
            **({"welcome_template": welcome_template} if welcome_template is not None else {}),
        }
    )
    if slug:
        slug = slug.strip().lower()
        if not SLUG_RE.match(slug) or slug in RESERVED_SLUGS:
            raise InvalidInput(
                _("The address may use lowercase letters, digits and dashes (up to 64)."), code="invalid_slug"
            )
        if Circle.objects.filter(slug=slug).exists():
            raise Conflict(_("That address is taken."), code="slug_taken")
    else:
        slug = _unique_slug(name if slugify(name) else f"circle-{owner.id}")
    try:
        with transaction.atomic():
            circle = Circle.objects.create(slug=slug, created_by=owner, member_count=1, **fields)
    except IntegrityError:
        raise Conflict(_("That address is taken."), code="slug_taken")
    main = chat_actions.create_group_rows(circle=circle, name=_("General"), kind=GroupKind.MAIN, creator=owner)
    circle.main_group = main
    update = ["main_group"]
    if with_channel:
        channel = chat_actions.create_group_rows(
            circle=circle, name=_("Announcements"), kind=GroupKind.CHANNEL, creator=owner
        )
        circle.channel_group = channel
        update.append("channel_group")
        GroupMember.objects.create(group=channel, user=owner)
    circle.save(update_fields=update)
    Membership.objects.create(circle=circle, user=owner, role=Role.OWNER, onboarding_done=True, follows_channel=True)
    GroupMember.objects.create(group=main, user=owner)
    audit.record(circle=circle, actor=owner, action="circle.create", target_repr=circle.name)
    emit(EventType.CIRCLE_CREATED, circle=circle, actor_id=owner.id)
    emit(
        EventType.MEMBER_JOINED,
        circle=circle,
        actor_id=owner.id,
        target_user_id=owner.id,
        data={"role": Role.OWNER},
        payload={"member": {"user": {"id": owner.id, "username": owner.username, "name": owner.name},
                            "role": Role.OWNER}, "group_ids": [g for g in (main.id, circle.channel_group_id) if g]},
    )
    return circle


@transaction.atomic
def do_update_circle(*, actor, circle: Circle, **fields) -> Circle:
    circle = Circle.objects.select_for_update().get(id=circle.id)
    rules.check_manage_circle(_lock_membership(circle, actor))
    clean = _validate_circle_fields(fields)
    changes = {k: v for k, v in clean.items() if getattr(circle, k) != v}
    if not changes:
        return circle
    for key, value in changes.items():
        setattr(circle, key, value)
    circle.save(update_fields=list(changes))
    audit.record(circle=circle, actor=actor, action="circle.update", target_repr=circle.name,
                 data={"fields": sorted(changes)})
    emit(EventType.CIRCLE_UPDATED, circle=circle, actor_id=actor.id, data={"fields": sorted(changes)},
         payload={"fields": sorted(changes)})
    return circle


def do_set_circle_avatar(*, actor, circle: Circle, upload=None) -> Circle:
    """Replace the circle's avatar with the uploaded picture, or with ``upload=None`` remove it (admins).

    The rule is checked before the upload is decoded (no decoding work for callers without
    the right, and a 403 wins over a 400), again under the row lock in case the role changed
    meanwhile. Decoding (``core.images.reencode_image``) happens outside the transaction so
    SQLite's write lock isn't held for it. The old file is deleted after commit.
    """
    rules.check_manage_circle(Membership.objects.filter(circle_id=circle.id, user_id=actor.id).first())
    image = reencode_image(upload) if upload is not None else None
    with transaction.atomic():
        circle = Circle.objects.select_for_update().get(id=circle.id)
        rules.check_manage_circle(_lock_membership(circle, actor))
        old = circle.avatar.name or ""
        if image is None and not old:
            return circle
        if image is None:
            circle.avatar = ""
        else:
            circle.avatar.save(image.name, image, save=False)
        circle.save(update_fields=["avatar"])
        audit.record(circle=circle, actor=actor, action="circle.avatar", target_repr=circle.name,
                     data={"removed": image is None})
        emit(EventType.CIRCLE_UPDATED, circle=circle, actor_id=actor.id, data={"fields": ["avatar"]},
             payload={"fields": ["avatar"]})
        if old:
            storage = circle.avatar.storage
            transaction.on_commit(lambda: storage.delete(old))
    return circle


# --- joining ------------------------------------------------------------------------------


@dataclass(frozen=True)
class JoinResult:
    """Either the membership (joined) or a pending join request (approval needed)."""

    membership: Membership | None = None
    join_request: JoinRequest | None = None

    @property
    def status(self) -> str:
        return "joined" if self.membership is not None else "requested"


def _consume_invite(invite: Invite) -> None:
    """Count one use atomically; a concurrent last use makes this fail, never over-count."""
    now = timezone.now()
    updated = (
        Invite.objects.filter(id=invite.id, revoked_at__isnull=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .filter(Q(max_uses__isnull=True) | Q(uses__lt=F("max_uses")))
        .update(uses=F("uses") + 1)
    )
    if not updated:
        raise Forbidden(_("This invite link has been used up."), code="invite_used_up")


def _check_invite(invite: Invite) -> None:
    reason = invite.usable_reason()
    messages = {
        "invite_revoked": _("This invite link has been revoked."),
        "invite_expired": _("This invite link has expired."),
        "invite_used_up": _("This invite link has been used up."),
    }
    if reason:
        raise Forbidden(messages[reason], code=reason)


def _activate_membership(circle: Circle, user, *, invite: Invite | None, existing: Membership | None) -> Membership:
    now = timezone.now()
    if existing is None:
        try:
            with transaction.atomic():
                membership = Membership.objects.create(circle=circle, user=user, invite=invite, joined_at=now)
        except IntegrityError:
            raise Conflict(_("You are already a member of this circle."), code="already_member")
    else:
        membership = existing
        membership.status = MembershipStatus.ACTIVE
        membership.role = Role.MEMBER
        membership.muted_until = None
        membership.mute_reason = ""
        membership.invite = invite
        membership.joined_at = now
        membership.left_at = None
        membership.paid_until = None
        membership.follows_channel = False
        membership.onboarding_done = False
        membership.save()
    Circle.objects.filter(id=circle.id).update(member_count=F("member_count") + 1)
    group_ids = [g for g in (circle.main_group_id, circle.channel_group_id) if g]
    GroupMember.objects.bulk_create([GroupMember(group_id=g, user=user) for g in group_ids], ignore_conflicts=True)
    if existing is not None:  # DM seats outlive a membership: the live socket gets them back too (chat DMs)
        group_ids += list(GroupMember.objects.filter(user=user, group__circle=circle, group__kind=GroupKind.DM)
                          .values_list("group_id", flat=True))
    emit(
        EventType.MEMBER_JOINED,
        circle=circle,
        actor_id=user.id,
        target_user_id=user.id,
        data={"invite_id": invite.id if invite else None, "rejoin": existing is not None},
        payload={"member": {"user": {"id": user.id, "username": user.username, "name": user.name},
                            "role": Role.MEMBER}, "group_ids": group_ids},
    )
    # The automatic welcome: a system message in the main group and a personal notice.
    text = render_welcome(circle.welcome_template, name=user.name, circle=circle.name, rules=circle.rules_text)
    if circle.main_group_id:
        chat_actions.post_system_message(group=circle.main_group, body=text, actor_id=user.id)
    chat_actions.notify_user(user_id=user.id, circle_id=circle.id, kind=NoticeKind.WELCOME, text=text)
    return membership


@transaction.atomic
def do_join_circle(*, user, circle: Circle, invite: Invite | None = None, message: str = "") -> JoinResult:
    """Join directly (open mode or a valid invite) or file a join request (approval mode)."""
    # of=("self",): PostgreSQL refuses FOR UPDATE on the nullable side of the main_group join.
    circle = Circle.objects.select_for_update(of=("self",)).select_related("main_group").get(id=circle.id)
    existing = _lock_membership(circle, user)
    if existing is not None and existing.status == MembershipStatus.ACTIVE:
        raise Conflict(_("You are already a member of this circle."), code="already_member")
    if existing is not None and existing.status == MembershipStatus.BANNED:
        raise Forbidden(_("You are banned from this circle."), code="banned")
    if _requires_payment(circle):
        raise Forbidden(_("This circle is paid: choose a plan and pay to join."), code="payment_required")
    if invite is not None:
        invite = Invite.objects.select_for_update().get(id=invite.id)
        if invite.circle_id != circle.id:
            raise NotFound(_("No such invite."), code="invite_not_found")
        _check_invite(invite)
    if circle.join_mode == JoinMode.APPROVAL:
        return JoinResult(join_request=_file_join_request(user=user, circle=circle, invite=invite, message=message))
    if circle.join_mode == JoinMode.INVITE and invite is None:
        raise Forbidden(_("This circle can only be joined through an invite link."), code="invite_required")
    if invite is not None:
        _consume_invite(invite)
    membership = _activate_membership(circle, user, invite=invite, existing=existing)
    return JoinResult(membership=membership)


def _requires_payment(circle: Circle) -> bool:
    # Imported here: payments builds on circles, and circles only asks it this one question.
    from quanzi.payments.selectors import requires_payment

    return requires_payment(circle)


@transaction.atomic
def grant_paid_membership(
    *, circle: Circle, user, paid_until: datetime | None, invite: Invite | None = None
) -> Membership:
    """Let a payer in (or move an active member's paid-through date): payments' way into a circle.

    A new or returning member goes through the same activation as a join (seats, welcome,
    ``member.joined``); ``paid_until=None`` is a lifetime membership. A usable invite is
    counted; a used-up one no longer matters once the payment is made. Banned users stay out.
    """
    circle = Circle.objects.select_for_update(of=("self",)).select_related("main_group").get(id=circle.id)
    existing = _lock_membership(circle, user)
    if existing is not None and existing.status == MembershipStatus.BANNED:
        raise Forbidden(_("You are banned from this circle."), code="banned")
    if existing is not None and existing.status == MembershipStatus.ACTIVE:
        membership = existing
    else:
        if invite is not None:
            invite = Invite.objects.select_for_update().filter(id=invite.id, circle=circle).first()
            if invite is not None and invite.usable_reason() is None:
                _consume_invite(invite)
            else:
                invite = None
        membership = _activate_membership(circle, user, invite=invite, existing=existing)
    membership.paid_until = paid_until
    membership.save(update_fields=["paid_until"])
    return membership


@transaction.atomic
def end_paid_membership(*, circle: Circle, user, reason: str) -> Membership | None:
    """Paid access is over (a refund, or expiry in a circle that removes expired members): the member
    leaves (status ``left``), as if they had left themself. The owner is never removed this way."""
    circle = Circle.objects.select_for_update().get(id=circle.id)
    membership = _lock_membership(circle, user)
    if not rules.is_active(membership) or membership.role == Role.OWNER:
        return membership
    _deactivate(circle, membership, MembershipStatus.LEFT)
    membership.paid_until = None
    membership.save(update_fields=["paid_until"])
    emit(EventType.MEMBER_LEFT, circle=circle, actor_id=user.id, target_user_id=user.id, data={"reason": reason})
    return membership


def access_invite(code: str) -> Invite:
    invite = Invite.objects.select_related("circle").filter(code=(code or "").strip()).first()
    if invite is None:
        raise NotFound(_("No such invite."), code="invite_not_found")
    return invite


def do_accept_invite(*, user, code: str, message: str = "") -> JoinResult:
    invite = access_invite(code)
    return do_join_circle(user=user, circle=invite.circle, invite=invite, message=message)


def _file_join_request(*, user, circle: Circle, invite: Invite | None, message: str) -> JoinRequest:
    message = (message or "").strip()[:500]
    pending = JoinRequest.objects.filter(circle=circle, user=user, status=JoinRequestStatus.PENDING).first()
    if pending is not None:
        raise Conflict(_("Your request to join is already waiting for approval."), code="request_pending")
    try:
        with transaction.atomic():
            request = JoinRequest.objects.create(circle=circle, user=user, invite=invite, message=message)
    except IntegrityError:
        raise Conflict(_("Your request to join is already waiting for approval."), code="request_pending")
    emit(EventType.JOIN_REQUESTED, circle=circle, actor_id=user.id, target_user_id=user.id,
         data={"request_id": request.id}, payload={"request_id": request.id})
    return request


@transaction.atomic
def do_decide_join_request(*, actor, request_id: int, approve: bool, reason: str = "") -> JoinRequest:
    if as_db_id(request_id) is None:
        raise NotFound(_("No such join request."), code="join_request_not_found")
    request = JoinRequest.objects.select_for_update().select_related("circle", "user").filter(id=request_id).first()
    if request is None:
        raise NotFound(_("No such join request."), code="join_request_not_found")
    circle = Circle.objects.select_for_update().get(id=request.circle_id)
    actor_membership = _lock_membership(circle, actor)
    if not rules.is_active(actor_membership):
        raise NotFound(_("No such join request."), code="join_request_not_found")
    rules.check_decide_join_requests(actor_membership)
    if request.status != JoinRequestStatus.PENDING:
        raise Conflict(_("This request was already decided."), code="request_decided")
    request.status = JoinRequestStatus.APPROVED if approve else JoinRequestStatus.REJECTED
    request.decided_by = actor
    request.decided_at = timezone.now()
    request.save(update_fields=["status", "decided_by", "decided_at"])
    audit.record(circle=circle, actor=actor, action="join_request.approve" if approve else "join_request.reject",
                 target_user=request.user, reason=reason, data={"request_id": request.id})
    if approve:
        existing = _lock_membership(circle, request.user)
        if existing is not None and existing.status == MembershipStatus.BANNED:
            raise Forbidden(_("This user is banned; unban them first."), code="banned")
        if existing is None or existing.status != MembershipStatus.ACTIVE:
            if request.invite_id:
                invite = Invite.objects.select_for_update().get(id=request.invite_id)
                if invite.usable_reason() is None:
                    _consume_invite(invite)
                else:
                    invite = None
            else:
                invite = None
            _activate_membership(circle, request.user, invite=invite, existing=existing)
    else:
        chat_actions.notify_user(
            user_id=request.user_id, circle_id=circle.id, kind=NoticeKind.JOIN_REQUEST,
            text=_("Your request to join %(circle)s was declined.") % {"circle": circle.name},
        )
    emit(
        EventType.JOIN_REQUEST_APPROVED if approve else EventType.JOIN_REQUEST_REJECTED,
        circle=circle, actor_id=actor.id, target_user_id=request.user_id, data={"request_id": request.id},
        payload={"request_id": request.id},
    )
    return request


# --- leaving and management ---------------------------------------------------------------


def _deactivate(circle: Circle, membership: Membership, status: str) -> None:
    membership.status = status
    membership.left_at = timezone.now()
    membership.muted_until = None
    if status != MembershipStatus.ACTIVE:
        membership.role = Role.MEMBER
    membership.save(update_fields=["status", "left_at", "muted_until", "role"])
    Circle.objects.filter(id=circle.id, member_count__gt=0).update(member_count=F("member_count") - 1)
    chat_actions.remove_user_from_circle_groups(circle.id, membership.user_id)


@transaction.atomic
def do_leave_circle(*, user, circle: Circle) -> None:
    circle = Circle.objects.select_for_update().get(id=circle.id)
    membership = _lock_membership(circle, user)
    rules.check_leave(membership)
    _deactivate(circle, membership, MembershipStatus.LEFT)
    emit(EventType.MEMBER_LEFT, circle=circle, actor_id=user.id, target_user_id=user.id)


@transaction.atomic
def do_kick_member(*, actor, circle: Circle, user_id: int, reason: str = "") -> Membership:
    circle = Circle.objects.select_for_update().get(id=circle.id)
    actor_m = _lock_membership(circle, actor)
    target = _lock_target(circle, user_id, actor=actor_m, minimum=Role.MODERATOR)
    if not rules.is_active(target):
        raise NotFound(_("No such member."), code="member_not_found")
    rules.check_kick(actor_m, target)
    _deactivate(circle, target, MembershipStatus.KICKED)
    audit.record(circle=circle, actor=actor, action="member.kick", target_user=target.user, reason=reason)
    emit(EventType.MEMBER_KICKED, circle=circle, actor_id=actor.id, target_user_id=target.user_id,
         data={"reason": reason[:200]}, payload={"reason": reason[:500]})
    return target


@transaction.atomic
def do_system_kick(circle: Circle, membership: Membership, *, reason: str, data: dict | None = None,
                   actor=None) -> None:
    """A kick by Quanzi itself (a policy, e.g. K strikes for ads; no moderator to rank-check): the same row change,
    audit entry and event as `do_kick_member`, marked automatic. `actor` is the moderator whose decision set the
    policy off, if any (recorded, not checked). The caller's transaction holds the membership;
    the circle row is not locked, so no lock order is added to the caller's (the member count moves atomically)."""
    _deactivate(circle, membership, MembershipStatus.KICKED)
    audit.record(circle=circle, actor=actor, action="member.kick", target_user=membership.user,
                 reason=_("automatic: %(reason)s") % {"reason": reason}, data={**(data or {}), "automatic": True})
    emit(EventType.MEMBER_KICKED, circle=circle, actor_id=getattr(actor, "id", None),
         target_user_id=membership.user_id, data={"reason": reason[:200], "automatic": True},
         payload={"reason": reason[:500]})


@transaction.atomic
def do_system_mute(circle: Circle, membership: Membership, *, minutes: int, reason: str) -> None:
    """A timed mute by Quanzi itself (flood control, an ad deleted by policy): the same row change, audit entry and
    event as `do_mute_member`, marked automatic."""
    until = timezone.now() + timedelta(minutes=minutes)
    Membership.objects.filter(id=membership.id).update(muted_until=until, mute_reason=reason[:500])
    membership.muted_until, membership.mute_reason = until, reason[:500]
    audit.record(circle=circle, actor=None, action="member.mute", target_user=membership.user,
                 reason=_("automatic: %(reason)s") % {"reason": reason}, data={"until": until.isoformat()})
    emit(EventType.MEMBER_MUTED, circle=circle, actor_id=None, target_user_id=membership.user_id,
         data={"until": until.isoformat(), "automatic": True},
         payload={"until": until.isoformat(), "reason": membership.mute_reason})


@transaction.atomic
def do_ban_member(*, actor, circle: Circle, user_id: int, reason: str = "") -> Membership:
    """Remove the member and keep them out: no invite, request or open join works until unbanned."""
    circle = Circle.objects.select_for_update().get(id=circle.id)
    actor_m = _lock_membership(circle, actor)
    target = _lock_target(circle, user_id, actor=actor_m, minimum=Role.MODERATOR)
    if target.status == MembershipStatus.BANNED:
        raise Conflict(_("This user is already banned."), code="already_banned")
    rules.check_ban(actor_m, target)
    was_active = target.status == MembershipStatus.ACTIVE
    if was_active:
        _deactivate(circle, target, MembershipStatus.BANNED)
    else:
        target.status = MembershipStatus.BANNED
        target.save(update_fields=["status"])
    JoinRequest.objects.filter(circle=circle, user_id=user_id, status=JoinRequestStatus.PENDING).update(
        status=JoinRequestStatus.REJECTED, decided_by=actor, decided_at=timezone.now()
    )
    audit.record(circle=circle, actor=actor, action="member.ban", target_user=target.user, reason=reason)
    emit(EventType.MEMBER_BANNED, circle=circle, actor_id=actor.id, target_user_id=target.user_id,
         data={"reason": reason[:200], "was_active": was_active}, payload={"reason": reason[:500]})
    return target


@transaction.atomic
def do_ban_user(*, actor, circle: Circle, user, reason: str = "") -> Membership:
    """Ban someone who never joined (e.g. a known spammer): creates the banned row."""
    circle = Circle.objects.select_for_update().get(id=circle.id)
    rules.check_unban(_lock_membership(circle, actor))
    Membership.objects.get_or_create(
        circle=circle, user=user, defaults={"status": MembershipStatus.LEFT, "left_at": timezone.now()}
    )
    return do_ban_member(actor=actor, circle=circle, user_id=user.id, reason=reason)


@transaction.atomic
def do_unban_member(*, actor, circle: Circle, user_id: int, reason: str = "") -> Membership:
    circle = Circle.objects.select_for_update().get(id=circle.id)
    actor_m = _lock_membership(circle, actor)
    rules.check_unban(actor_m)
    target = _lock_target(circle, user_id, actor=actor_m, minimum=Role.MODERATOR)
    if target.status != MembershipStatus.BANNED:
        raise Conflict(_("This user is not banned."), code="not_banned")
    target.status = MembershipStatus.LEFT
    target.save(update_fields=["status"])
    audit.record(circle=circle, actor=actor, action="member.unban", target_user=target.user, reason=reason)
    emit(EventType.MEMBER_UNBANNED, circle=circle, actor_id=actor.id, target_user_id=target.user_id)
    return target


@transaction.atomic
def do_mute_member(
    *, actor, circle: Circle, user_id: int, minutes: int | None = None, until: datetime | None = None,
    reason: str = "",
) -> Membership:
    """Timed mute: the member keeps reading but cannot post until ``until``."""
    now = timezone.now()
    if until is None:
        if not isinstance(minutes, int) or isinstance(minutes, bool) or minutes <= 0:
            raise InvalidInput(_("Give the mute length as a positive number of minutes."), code="invalid_duration")
        if minutes > MAX_MUTE.total_seconds() // 60:  # before timedelta(), which overflows on huge values
            raise InvalidInput(_("A mute lasts from one minute to one year."), code="invalid_duration")
        until = now + timedelta(minutes=minutes)
    if until <= now or until - now > MAX_MUTE:
        raise InvalidInput(_("A mute lasts from one minute to one year."), code="invalid_duration")
    circle = Circle.objects.select_for_update().get(id=circle.id)
    actor_m = _lock_membership(circle, actor)
    target = _lock_target(circle, user_id, actor=actor_m, minimum=Role.MODERATOR)
    if not rules.is_active(target):
        raise NotFound(_("No such member."), code="member_not_found")
    rules.check_mute(actor_m, target)
    target.muted_until = until
    target.mute_reason = (reason or "")[:500]
    target.save(update_fields=["muted_until", "mute_reason"])
    audit.record(circle=circle, actor=actor, action="member.mute", target_user=target.user, reason=reason,
                 data={"until": until.isoformat()})
    emit(EventType.MEMBER_MUTED, circle=circle, actor_id=actor.id, target_user_id=target.user_id,
         data={"until": until.isoformat()}, payload={"until": until.isoformat(), "reason": target.mute_reason})
    return target


@transaction.atomic
def do_unmute_member(*, actor, circle: Circle, user_id: int, reason: str = "") -> Membership:
    circle = Circle.objects.select_for_update().get(id=circle.id)
    actor_m = _lock_membership(circle, actor)
    target = _lock_target(circle, user_id, actor=actor_m, minimum=Role.MODERATOR)
    if not rules.is_active(target):
        raise NotFound(_("No such member."), code="member_not_found")
    rules.check_mute(actor_m, target)
    if not target.is_muted():
        raise Conflict(_("This member is not muted."), code="not_muted")
    target.muted_until = None
    target.mute_reason = ""
    target.save(update_fields=["muted_until", "mute_reason"])
    audit.record(circle=circle, actor=actor, action="member.unmute", target_user=target.user, reason=reason)
    emit(EventType.MEMBER_UNMUTED, circle=circle, actor_id=actor.id, target_user_id=target.user_id)
    return target


@transaction.atomic
def do_set_role(*, actor, circle: Circle, user_id: int, role: str, reason: str = "") -> Membership:
    if role not in Role.values:
        raise InvalidInput(_("Unknown role."), code="invalid_role")
    circle = Circle.objects.select_for_update().get(id=circle.id)
    actor_m = _lock_membership(circle, actor)
    target = _lock_target(circle, user_id, actor=actor_m, minimum=Role.ADMIN)
    if not rules.is_active(target):
        raise NotFound(_("No such member."), code="member_not_found")
    rules.check_set_role(actor_m, target, Role(role))
    if target.role == role:
        return target
    old = target.role
    target.role = role
    target.save(update_fields=["role"])
    audit.record(circle=circle, actor=actor, action="member.set_role", target_user=target.user, reason=reason,
                 data={"from": old, "to": role})
    emit(EventType.MEMBER_ROLE_CHANGED, circle=circle, actor_id=actor.id, target_user_id=target.user_id,
         data={"from": old, "to": role}, payload={"role": role, "previous_role": old})
    return target


@transaction.atomic
def do_transfer_ownership(*, actor, circle: Circle, user_id: int, reason: str = "") -> Membership:
    """The new owner takes over; the previous owner stays on as an admin."""
    circle = Circle.objects.select_for_update().get(id=circle.id)
    actor_m = _lock_membership(circle, actor)
    target = _lock_target(circle, user_id, actor=actor_m, minimum=Role.OWNER)
    rules.check_transfer_ownership(actor_m, target)
    old_target_role = target.role
    actor_m.role = Role.ADMIN
    actor_m.save(update_fields=["role"])
    target.role = Role.OWNER
    target.save(update_fields=["role"])
    audit.record(circle=circle, actor=actor, action="circle.transfer_ownership", target_user=target.user,
                 reason=reason, data={"previous_role": old_target_role})
    emit(EventType.OWNERSHIP_TRANSFERRED, circle=circle, actor_id=actor.id, target_user_id=target.user_id,
         payload={"previous_owner_id": actor.id})
    return target


# --- invites ------------------------------------------------------------------------------


@transaction.atomic
def do_create_invite(
    *, actor, circle: Circle, expires_in_hours: int | None = None, max_uses: int | None = None, note: str = ""
) -> Invite:
    rules.check_manage_circle(_lock_membership(circle, actor))
    expires_at = None
    if expires_in_hours is not None:
        if not isinstance(expires_in_hours, int) or not 1 <= expires_in_hours <= 24 * 365:
            raise InvalidInput(_("Expiry must be between 1 hour and 1 year."), code="invalid_expiry")
        expires_at = timezone.now() + timedelta(hours=expires_in_hours)
    if max_uses is not None and (not isinstance(max_uses, int) or not 1 <= max_uses <= 1_000_000):
        raise InvalidInput(_("Maximum uses must be between 1 and 1,000,000."), code="invalid_max_uses")
    invite = Invite.objects.create(
        circle=circle, created_by=actor, expires_at=expires_at, max_uses=max_uses, note=(note or "").strip()[:100]
    )
    audit.record(circle=circle, actor=actor, action="invite.create", target_repr=invite.code,
                 data={"invite_id": invite.id, "max_uses": max_uses,
                       "expires_at": expires_at.isoformat() if expires_at else None})
    emit(EventType.INVITE_CREATED, circle=circle, actor_id=actor.id, data={"invite_id": invite.id})
    return invite


@transaction.atomic
def do_revoke_invite(*, actor, circle: Circle, invite_id: int) -> Invite:
    rules.check_manage_circle(_lock_membership(circle, actor))
    invite = (
        Invite.objects.select_for_update().filter(id=invite_id, circle=circle).first() if as_db_id(invite_id) else None
    )
    if invite is None:
        raise NotFound(_("No such invite."), code="invite_not_found")
    if invite.revoked_at is None:
        invite.revoked_at = timezone.now()
        invite.save(update_fields=["revoked_at"])
        audit.record(circle=circle, actor=actor, action="invite.revoke", target_repr=invite.code,
                     data={"invite_id": invite.id})
        emit(EventType.INVITE_REVOKED, circle=circle, actor_id=actor.id, data={"invite_id": invite.id})
    return invite


# --- the official channel and onboarding --------------------------------------------------


@transaction.atomic
def do_set_channel_follow(*, user, circle: Circle, follow: bool) -> Membership:
    membership = _lock_membership(circle, user)
    if not rules.is_active(membership):
        raise NotFound(_("No such circle."), code="circle_not_found")
    if not circle.channel_group_id:
        raise NotFound(_("This circle has no announcement channel."), code="no_channel")
    membership.onboarding_done = True
    changed = membership.follows_channel != follow
    membership.follows_channel = follow
    membership.save(update_fields=["follows_channel", "onboarding_done"])
    if changed:
        emit(EventType.CHANNEL_FOLLOWED if follow else EventType.CHANNEL_UNFOLLOWED, circle=circle,
             actor_id=user.id, target_user_id=user.id, group_id=circle.channel_group_id)
    return membership


@transaction.atomic
def do_finish_onboarding(*, user, circle: Circle) -> Membership:
    """Skip the follow step (the member can still follow later)."""
    membership = _lock_membership(circle, user)
    if not rules.is_active(membership):
        raise NotFound(_("No such circle."), code="circle_not_found")
    if not membership.onboarding_done:
        membership.onboarding_done = True
        membership.save(update_fields=["onboarding_done"])
    return membership
