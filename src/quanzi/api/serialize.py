"""Model → JSON-ready dicts for the API's response schemas.

Messages and notices use the chat selectors' own serialisers so the API, the web UI and
the WebSocket send one shape.
"""

from __future__ import annotations

from typing import Any

from quanzi.accounts.models import ApiToken, User
from quanzi.chat.selectors import user_brief
from quanzi.circles.models import Circle, Invite, JoinRequest, Membership
from quanzi.core.models import AuditEntry


def file_url(field: Any) -> str | None:
    return field.url if field else None


def me_out(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "email": user.email,
        "name": user.name,
        "display_name": user.display_name,
        "bio": user.bio,
        "language": user.language,
        "timezone": user.timezone,
        "avatar": file_url(user.avatar),
    }


def token_out(token: ApiToken) -> dict[str, Any]:
    return {
        "id": token.id,
        "name": token.name,
        "prefix": token.key_prefix,
        "created_at": token.created_at,
        "last_used_at": token.last_used_at,
        "revoked_at": token.revoked_at,
    }


def my_membership_out(membership: Membership | None) -> dict[str, Any] | None:
    if membership is None:
        return None
    return {
        "role": membership.role,
        "status": membership.status,
        "follows_channel": membership.follows_channel,
        "onboarding_done": membership.onboarding_done,
        "muted_until": membership.muted_until if membership.is_muted() else None,
        "paid_until": membership.paid_until,
        "joined_at": membership.joined_at,
    }


def circle_out(circle: Circle, membership: Membership | None, *, detail: bool = False) -> dict[str, Any]:
    data = {
        "id": circle.id,
        "slug": circle.slug,
        "name": circle.name,
        "description": circle.description,
        "avatar": file_url(circle.avatar),
        "visibility": circle.visibility,
        "join_mode": circle.join_mode,
        "timezone": circle.timezone,
        "language": circle.language,
        "member_count": circle.member_count,
        "created_at": circle.created_at,
        "main_group_id": circle.main_group_id,
        "channel_group_id": circle.channel_group_id,
        "membership": my_membership_out(membership),
    }
    if detail:
        data["rules_text"] = circle.rules_text
        data["welcome_template"] = circle.welcome_template
        data["dm_policy"] = circle.dm_policy
        data["members_can_post"] = circle.members_can_post
        data["upload_limit_mb"] = circle.upload_limit_mb
    return data


def member_out(membership: Membership) -> dict[str, Any]:
    return {
        "user": user_brief(membership.user),
        "role": membership.role,
        "status": membership.status,
        "muted_until": membership.muted_until if membership.is_muted() else None,
        "follows_channel": membership.follows_channel,
        "paid_until": membership.paid_until,
        "joined_at": membership.joined_at,
        "left_at": membership.left_at,
    }


def join_request_out(request: JoinRequest) -> dict[str, Any]:
    return {
        "id": request.id,
        "circle_id": request.circle_id,
        "user": user_brief(request.user),
        "message": request.message,
        "status": request.status,
        "created_at": request.created_at,
        "decided_at": request.decided_at,
        "decided_by_id": request.decided_by_id,
    }


def invite_out(invite: Invite) -> dict[str, Any]:
    return {
        "id": invite.id,
        "code": invite.code,
        "created_at": invite.created_at,
        "created_by": user_brief(invite.created_by),
        "expires_at": invite.expires_at,
        "max_uses": invite.max_uses,
        "uses": invite.uses,
        "revoked_at": invite.revoked_at,
        "note": invite.note,
        "usable": invite.usable_reason() is None,
    }


def audit_out(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "action": entry.action,
        "actor": user_brief(entry.actor),
        "target_user": user_brief(entry.target_user),
        "target_repr": entry.target_repr,
        "reason": entry.reason,
        "data": entry.data or {},
        "created_at": entry.created_at,
    }
