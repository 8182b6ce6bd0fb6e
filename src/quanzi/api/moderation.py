"""Moderation: the circle's anti-ad policy, the review queue and its decisions, reports, trust levels.

Policy: admins. Queue and decisions: moderators and up. Reports: any active member, on content
they can see. Trust levels: admins set them (locked); moderators and the member read them.
"""

from __future__ import annotations

from typing import Literal

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status

from quanzi.circles import rules as circle_rules
from quanzi.circles.access import access_member
from quanzi.circles.models import Role
from quanzi.moderation import actions, rules, selectors
from quanzi.moderation.learning import learned_from
from quanzi.moderation.models import MemberTrust
from quanzi.moderation.policy import ensure_policy, policy_fields
from quanzi.moderation.trust import effective_level, load

from .auth import current_user
from .circles import member_circle
from .schemas import Id, UserBrief, errors_for

router = Router(tags=["moderation"])

ActionName = Literal["allow", "hold", "delete", "mute"]


class PolicyOut(Schema):
    enabled: bool
    hold_threshold: float
    hold_action: str
    delete_threshold: float
    delete_action: str
    mute_minutes: int
    kick_after_strikes: int
    strike_window_days: int
    allowed_domains: list[str]
    blocked_domains: list[str]
    newcomer_link_hours: int
    keywords: list[str]
    regex_rules: list[str]
    rule_action: str
    flood_messages: int
    flood_seconds: int
    duplicate_groups: int
    duplicate_minutes: int
    learned_from: int = Field(description="How many moderator decisions the circle's spam filter learned from.")


class PolicyPatch(Schema):
    """Any subset of the fields; lists may be given as arrays or newline-separated text."""

    enabled: bool | None = None
    hold_threshold: float | None = None
    hold_action: ActionName | None = None
    delete_threshold: float | None = None
    delete_action: ActionName | None = None
    mute_minutes: int | None = None
    kick_after_strikes: int | None = None
    strike_window_days: int | None = None
    allowed_domains: list[str] | str | None = None
    blocked_domains: list[str] | str | None = None
    newcomer_link_hours: int | None = None
    keywords: list[str] | str | None = None
    regex_rules: list[str] | str | None = None
    rule_action: ActionName | None = None
    flood_messages: int | None = None
    flood_seconds: int | None = None
    duplicate_groups: int | None = None
    duplicate_minutes: int | None = None


class ItemOut(Schema):
    id: int
    kind: str
    object_id: int
    group_id: int | None = None
    author: UserBrief | None = None
    text: str
    score: float
    reasons: list[str]
    auto_action: str
    status: str
    report_count: int
    report_reasons: list[str]
    created_at: str
    decision: str | None = None
    decided_by: UserBrief | None = None
    decided_at: str | None = None


class QueueOut(Schema):
    items: list[ItemOut]
    total: int
    pending: int
    learned_from: int


class ReviewDecideIn(Schema):
    decision: Literal["approve", "delete", "mute", "ban"]
    reason: str = Field("", max_length=500)


class ReportIn(Schema):
    kind: Literal["message", "post", "comment"]
    object_id: Id
    reason: str = Field("", max_length=500)


class TrustIn(Schema):
    level: int | None = Field(description="0 newcomer, 1 basic, 2 member, 3 regular; null: earned automatically")
    reason: str = Field("", max_length=500)


class TrustOut(Schema):
    user_id: int
    level: int
    level_name: str
    locked_by_admin: bool
    messages: int
    active_days: int


def _policy_out(circle_id: int) -> dict:
    data = policy_fields(ensure_policy(circle_id))
    for name in ("allowed_domains", "blocked_domains", "keywords", "regex_rules"):
        data[name] = [line for line in data[name].splitlines() if line.strip()]
    data["learned_from"] = learned_from(circle_id)
    return data


@router.get("/circles/{slug}/moderation/policy", response=errors_for({200: PolicyOut}))
def get_policy(request: HttpRequest, slug: str):
    """Admins: the circle's moderation policy (created with the defaults on first use)."""
    circle, membership = member_circle(request, slug)
    rules.check_manage_policy(membership)
    return _policy_out(circle.id)


@router.patch("/circles/{slug}/moderation/policy", response=errors_for({200: PolicyOut}))
def update_policy(request: HttpRequest, slug: str, payload: PolicyPatch):
    """Admins: change any fields. Invalid thresholds, actions, domains or regexes answer 400, nothing stored."""
    circle, _m = member_circle(request, slug)
    actions.do_update_policy(actor=current_user(request), circle=circle, **payload.dict(exclude_unset=True))
    return _policy_out(circle.id)


@router.get("/circles/{slug}/moderation/queue", response=errors_for({200: QueueOut}))
def list_queue(
    request: HttpRequest, slug: str,
    status: Literal["pending", "approved", "removed"] = "pending",
    limit: int = Query(50, ge=1, le=200), offset: int = Query(0, ge=0, le=10_000_000),
):
    """Moderators: held and reported items (``pending``), or decided ones, newest first, with score and reasons."""
    circle, membership = member_circle(request, slug)
    rules.check_review(membership)
    items = selectors.queue_items(circle.id, status=status, limit=limit, offset=offset)
    from quanzi.moderation.models import ReviewItem

    return {
        "items": [selectors.item_to_dict(i) for i in items],
        "total": ReviewItem.objects.filter(circle=circle, status=status).count(),
        "pending": selectors.pending_count(circle.id),
        "learned_from": learned_from(circle.id),
    }


@router.post("/circles/{slug}/moderation/queue/{item_id}/decide", response=errors_for({200: ItemOut}))
def decide(request: HttpRequest, slug: str, item_id: Id, payload: ReviewDecideIn):
    """Moderators: approve (shown to everyone now), delete, delete and mute, or delete and ban."""
    circle, _m = member_circle(request, slug)
    item = actions.do_decide(actor=current_user(request), circle=circle, item_id=item_id,
                             decision=payload.decision, reason=payload.reason)
    return selectors.item_to_dict(selectors.queue_item(circle.id, item.id))


@router.post("/circles/{slug}/moderation/reports", response=errors_for({201: ItemOut}))
def report(request: HttpRequest, slug: str, payload: ReportIn):
    """Members: report a message (DMs too), post or comment as an ad. Once per item; rate limited."""
    circle, _m = member_circle(request, slug)
    item = actions.do_report(reporter=current_user(request), circle=circle, kind=payload.kind,
                             object_id=payload.object_id, reason=payload.reason)
    data = selectors.item_to_dict(selectors.queue_item(circle.id, item.id))
    # Reporters learn nothing about others' reports or the score.
    data.update({"score": 0.0, "reasons": [], "report_count": 1, "report_reasons": [], "text": "",
                 "auto_action": "allow", "author": None})
    return Status(201, data)


def _trust_out(circle, user_id: int) -> dict:
    policy = ensure_policy(circle.id)
    state = load(circle.id, user_id)
    level = effective_level(state, newcomer_hours=policy.newcomer_link_hours, now=timezone.now())
    return selectors.trust_to_dict(MemberTrust.objects.filter(circle=circle, user_id=user_id).first(),
                                   user_id=user_id, level=level)


@router.get("/circles/{slug}/members/{user_id}/trust", response=errors_for({200: TrustOut}))
def get_trust(request: HttpRequest, slug: str, user_id: Id):
    """A member's trust level: moderators and up, or the member themself."""
    user = current_user(request)
    circle, membership = member_circle(request, slug)
    if user.id != user_id:
        circle_rules.require_role(membership, Role.MODERATOR)
    target = access_member(circle, user_id)
    return _trust_out(circle, target.user_id)


@router.put("/circles/{slug}/members/{user_id}/trust", response=errors_for({200: TrustOut}))
def set_trust(request: HttpRequest, slug: str, user_id: Id, payload: TrustIn):
    """Admins: set a member's level by hand (locks it), or ``null`` to let it be earned again."""
    circle, _m = member_circle(request, slug)
    actions.do_set_trust_level(actor=current_user(request), circle=circle, user_id=user_id, level=payload.level,
                               reason=payload.reason)
    return _trust_out(circle, user_id)
