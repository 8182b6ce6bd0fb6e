"""The only writers of moderation state: policies, trust levels, the review queue, reports, strikes.

``apply_screening`` is what the gate's automatic decisions write (inside the content's own
transaction). Every automatic action is audited with actor ``None`` (Quanzi itself) and its
reasons; every human decision with its moderator.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from quanzi.chat import actions as chat_actions
from quanzi.chat.models import ModerationState, NoticeKind
from quanzi.circles import actions as circle_actions
from quanzi.circles import rules as circle_rules
from quanzi.circles.models import Circle, Membership, MembershipStatus, Role
from quanzi.core import audit
from quanzi.core.errors import Conflict, Forbidden, InvalidInput, NotFound, RateLimited
from quanzi.core.ids import as_db_id

from . import content, rules
from .gate import Screening
from .models import (
    Action,
    CirclePolicy,
    Decision,
    ItemStatus,
    MemberTrust,
    Report,
    ReviewItem,
    Strike,
    TrustLevel,
)
from .policy import clean_policy, ensure_policy, forget_policy, policy_fields

REPORTS_PER_HOUR = 20
REASON_LIMIT = 500
TEXT_LIMIT = 10_000


def _lock_membership(circle_id: int, user) -> Membership | None:
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return Membership.objects.select_for_update().filter(circle_id=circle_id, user=user).first()


def moderator_ids(circle_id: int) -> list[int]:
    return list(
        Membership.objects.filter(
            circle_id=circle_id, status=MembershipStatus.ACTIVE, role__in=[Role.MODERATOR, Role.ADMIN, Role.OWNER]
        ).values_list("user_id", flat=True)
    )


def _excerpt(text: str, n: int = 80) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= n else text[: n - 1] + "…"


# --- policy -------------------------------------------------------------------------------


@transaction.atomic
def do_update_policy(*, actor, circle: Circle, **changes) -> CirclePolicy:
    """Change the circle's policy; invalid values are refused with a clear message, nothing stored."""
    rules.check_manage_policy(_lock_membership(circle.id, actor))
    ensure_policy(circle.id)
    policy = CirclePolicy.objects.select_for_update().get(circle_id=circle.id)
    clean = clean_policy(policy_fields(policy), changes)
    if not clean:
        return policy
    for name, value in clean.items():
        setattr(policy, name, value)
    policy.updated_by = actor
    policy.save()
    audit.record(circle=circle, actor=actor, action="moderation.policy", target_repr=circle.name,
                 data={"changes": {k: v for k, v in clean.items()}})
    forget_policy(circle.id)
    return policy


# --- trust levels -------------------------------------------------------------------------


@transaction.atomic
def do_set_trust_level(*, actor, circle: Circle, user_id: int, level: int | None, reason: str = "") -> MemberTrust:
    """Set a member's level by hand (locks it), or give ``level=None`` to unlock and let it be earned again."""
    if level is not None and (isinstance(level, bool) or level not in TrustLevel.values):
        raise InvalidInput(_("The trust level must be 0 (newcomer) to 3 (regular)."), code="invalid_level")
    actor_m = _lock_membership(circle.id, actor)
    circle_rules.require_role(actor_m, Role.ADMIN)
    uid = as_db_id(user_id)
    target = Membership.objects.select_related("user").filter(circle=circle, user_id=uid).first() if uid else None
    if target is None or not circle_rules.is_active(target):
        raise NotFound(_("No such member."), code="member_not_found")
    rules.check_set_trust(actor_m, target)
    row, _created = MemberTrust.objects.select_for_update().get_or_create(circle=circle, user_id=target.user_id)
    old = (row.level, row.locked_by_admin)
    if level is None:
        row.locked_by_admin = False
    else:
        row.level, row.locked_by_admin = level, True
    if (row.level, row.locked_by_admin) == old:
        return row
    row.save(update_fields=["level", "locked_by_admin", "updated_at"])
    audit.record(circle=circle, actor=actor, action="moderation.trust_level", target_user=target.user,
                 reason=reason[:REASON_LIMIT],
                 data={"from": old[0], "to": row.level, "locked": row.locked_by_admin})
    return row


# --- what the gate decided ----------------------------------------------------------------


def _record_item(screening: Screening, *, object_id: int, status: str) -> ReviewItem:
    item, created = ReviewItem.objects.get_or_create(
        circle_id=screening.circle_id, kind=screening.kind, object_id=object_id,
        defaults={
            "group_id": screening.group_id, "author_id": screening.author_id, "text": screening.text[:TEXT_LIMIT],
            "score": screening.score, "reasons": screening.reasons, "auto_action": screening.action,
            "status": status,
        },
    )
    if not created:  # an edit screened again
        item.text, item.score, item.reasons = screening.text[:TEXT_LIMIT], screening.score, screening.reasons
        item.auto_action, item.status = screening.action, status
        item.decision, item.decided_by, item.decided_at = "", None, None
        item.save()
    return item


def apply_screening(screening: Screening, *, object_id: int) -> ReviewItem:
    """Record an automatic hold/delete/mute: queue item, audit entry, strike, mute or kick, notices."""
    circle = Circle.objects.get(id=screening.circle_id)
    author = Membership.objects.select_related("user").get(circle_id=circle.id, user_id=screening.author_id)
    held = screening.action == Action.HOLD
    item = _record_item(screening, object_id=object_id, status=ItemStatus.PENDING if held else ItemStatus.REMOVED)
    reason = "; ".join(screening.reasons)
    audit.record(
        circle=circle, actor=None, action="moderation.auto_hold" if held else "moderation.auto_remove",
        target_user=author.user, reason=reason,
        data={"kind": screening.kind, "object_id": object_id, "item_id": item.id, "score": round(screening.score, 4),
              "group_id": screening.group_id, "text": screening.text[:2000]},
    )
    excerpt = _excerpt(screening.text)
    if held:
        chat_actions.notify_many(
            moderator_ids(circle.id), circle_id=circle.id, kind=NoticeKind.MODERATION,
            text=_("Held for review in %(circle)s: %(author)s: %(text)s")
            % {"circle": circle.name, "author": author.user.name, "text": excerpt},
        )
    else:
        chat_actions.notify_user(
            user_id=author.user_id, circle_id=circle.id, kind=NoticeKind.MODERATION,
            text=_("Your message in %(circle)s was removed: %(reason)s. Repeated ads get you muted or removed.")
            % {"circle": circle.name, "reason": reason},
        )
    if screening.strike:
        _strike(circle, author, item=item, reason=reason, actor=None)
    if screening.mute and circle_rules.is_active(author):
        circle_actions.do_system_mute(circle, author, minutes=screening.policy.mute_minutes, reason=reason)
    return item


def _strike(circle: Circle, membership: Membership, *, item: ReviewItem | None, reason: str, actor) -> int:
    """Count a strike; at the policy's K strikes within its window the member is kicked. Returns the count."""
    if item is not None and Strike.objects.filter(item=item, revoked_at__isnull=True).exists():
        return 0
    Strike.objects.create(circle=circle, user_id=membership.user_id, item=item, reason=reason[:500])
    MemberTrust.objects.filter(circle=circle, user_id=membership.user_id, locked_by_admin=False,
                               level=TrustLevel.REGULAR).update(level=TrustLevel.MEMBER)
    policy = ensure_policy(circle.id)
    since = timezone.now() - timedelta(days=policy.strike_window_days)
    count = Strike.objects.filter(circle=circle, user_id=membership.user_id, revoked_at__isnull=True,
                                  created_at__gte=since).count()
    if policy.kick_after_strikes and count >= policy.kick_after_strikes and circle_rules.is_active(membership) \
            and rules.is_screened(membership):
        _auto_kick(circle, membership, strikes=count, actor=actor)
    return count


def _auto_kick(circle: Circle, membership: Membership, *, strikes: int, actor) -> None:
    reason = _("%(n)d strikes for ads within %(days)d days") % {
        "n": strikes, "days": ensure_policy(circle.id).strike_window_days}
    membership.refresh_from_db()
    circle_actions.do_system_kick(circle, membership, reason=reason, data={"strikes": strikes}, actor=actor)


# --- reports ------------------------------------------------------------------------------


@transaction.atomic
def do_report(*, reporter, circle: Circle, kind: str, object_id, reason: str = "") -> ReviewItem:
    """"Report as ad": one report per member per item, a few dozen an hour at most; the item joins the queue."""
    if not isinstance(reason, str):
        raise InvalidInput(_("The reason must be text."), code="invalid_reason")
    reason = reason.strip()
    if len(reason) > REASON_LIMIT:
        raise InvalidInput(_("The reason can be at most %(n)d characters.") % {"n": REASON_LIMIT},
                           code="invalid_reason")
    membership = _lock_membership(circle.id, reporter)
    rules.check_report(membership)
    ref = content.load(kind, object_id, circle_id=circle.id)
    if not content.can_see(ref, reporter, membership):
        raise NotFound(_("No such content."), code="content_not_found")
    if ref.author_id == reporter.id:
        raise InvalidInput(_("You cannot report your own content."), code="own_content")
    recent = Report.objects.filter(reporter=reporter, created_at__gte=timezone.now() - timedelta(hours=1)).count()
    if recent >= REPORTS_PER_HOUR:
        raise RateLimited(_("You have sent many reports in the last hour; please wait a little."),
                          retry_after=600, code="report_rate_limited")
    item = ReviewItem.objects.select_for_update().filter(circle=circle, kind=ref.kind, object_id=ref.object_id).first()
    if item is None:
        from .learning import score_for_circle

        verdict = score_for_circle(circle.id, ref.text)
        item = ReviewItem.objects.create(
            circle=circle, kind=ref.kind, object_id=ref.object_id, group_id=ref.group_id, author_id=ref.author_id,
            text=ref.text[:TEXT_LIMIT], score=float(verdict.score), reasons=list(verdict.reasons)[:10],
            auto_action=Action.ALLOW, status=ItemStatus.PENDING,
        )
    if Report.objects.filter(item=item, reporter=reporter).exists():
        raise Conflict(_("You have already reported this."), code="already_reported")
    Report.objects.create(item=item, circle=circle, reporter=reporter, reason=reason)
    ReviewItem.objects.filter(id=item.id).update(report_count=F("report_count") + 1, status=ItemStatus.PENDING)
    item.refresh_from_db()
    audit.record(circle=circle, actor=reporter, action="moderation.report",
                 target_repr=f"{ref.kind} #{ref.object_id}", reason=reason,
                 data={"kind": ref.kind, "object_id": ref.object_id, "item_id": item.id})
    chat_actions.notify_many(
        [uid for uid in moderator_ids(circle.id) if uid != reporter.id], circle_id=circle.id, kind=NoticeKind.REPORT,
        text=_("Reported as an ad in %(circle)s: %(text)s") % {"circle": circle.name, "text": _excerpt(ref.text)},
    )
    return item


# --- decisions ----------------------------------------------------------------------------


def access_item(circle: Circle, item_id) -> ReviewItem:
    iid = as_db_id(item_id)
    item = ReviewItem.objects.filter(id=iid, circle=circle).select_related("author").first() if iid else None
    if item is None:
        raise NotFound(_("No such review item."), code="item_not_found")
    return item


@transaction.atomic
def do_decide(*, actor, circle: Circle, item_id, decision: str, reason: str = "") -> ReviewItem:
    """A moderator's one-click decision: approve (visible now), delete, delete and mute, delete and ban."""
    if decision not in Decision.values:
        raise InvalidInput(_("The decision must be approve, delete, mute or ban."), code="invalid_decision")
    if not isinstance(reason, str) or len(reason) > REASON_LIMIT:
        raise InvalidInput(_("The reason can be at most %(n)d characters.") % {"n": REASON_LIMIT},
                           code="invalid_reason")
    actor_m = _lock_membership(circle.id, actor)
    rules.check_review(actor_m)
    item = access_item(circle, item_id)
    item = ReviewItem.objects.select_for_update().get(id=item.id)
    if item.status != ItemStatus.PENDING and item.decision == decision:
        raise Conflict(_("This item has already been decided that way."), code="already_decided")
    author_m = (
        Membership.objects.select_related("user").filter(circle=circle, user_id=item.author_id).first()
        if item.author_id else None
    )
    if decision != Decision.APPROVE and author_m is not None and author_m.user_id != actor.id:
        if decision == Decision.DELETE:
            if circle_rules.rank(author_m.role) >= circle_rules.rank(actor_m.role) and actor_m.role != Role.OWNER:
                raise Forbidden(_("You cannot act on a member whose role is equal to or higher than yours."),
                                code="higher_role")
        elif circle_rules.is_active(author_m) or decision == Decision.BAN:
            circle_rules.check_acts_on(actor_m, author_m)
    try:
        ref = content.load(item.kind, item.object_id, circle_id=circle.id)
    except NotFound:
        ref = None  # the content was deleted meanwhile: the decision still counts (and teaches)
    now = timezone.now()
    if decision == Decision.APPROVE:
        if ref is not None:
            content.set_state(ref, ModerationState.VISIBLE, actor_id=actor.id)
        Strike.objects.filter(item=item, revoked_at__isnull=True).update(revoked_at=now)
        item.status = ItemStatus.APPROVED
    else:
        if ref is not None:
            content.set_state(ref, ModerationState.REMOVED, actor_id=actor.id)
        item.status = ItemStatus.REMOVED
    item.decision, item.decided_by, item.decided_at = decision, actor, now
    item.save(update_fields=["status", "decision", "decided_by", "decided_at"])
    audit.record(
        circle=circle, actor=actor, action=f"moderation.{decision}",
        target_user=author_m.user if author_m else None,
        target_repr=(author_m.user.username if author_m else f"{item.kind} #{item.object_id}"),
        reason=reason,
        data={"item_id": item.id, "kind": item.kind, "object_id": item.object_id, "score": round(item.score, 4)},
    )
    if decision != Decision.APPROVE and author_m is not None and author_m.user_id != actor.id:
        chat_actions.notify_user(
            user_id=author_m.user_id, circle_id=circle.id, kind=NoticeKind.MODERATION,
            text=_("A moderator removed your content in %(circle)s as an ad: %(text)s")
            % {"circle": circle.name, "text": _excerpt(item.text)},
        )
        policy = ensure_policy(circle.id)
        if decision == Decision.MUTE and circle_rules.is_active(author_m):
            circle_actions.do_mute_member(actor=actor, circle=circle, user_id=author_m.user_id,
                                          minutes=policy.mute_minutes, reason=reason or _("ads"))
        elif decision == Decision.BAN:
            circle_actions.do_ban_member(actor=actor, circle=circle, user_id=author_m.user_id,
                                         reason=reason or _("ads"))
        else:
            author_m.refresh_from_db()
            if circle_rules.is_active(author_m):
                _strike(circle, author_m, item=item, reason=reason or _("removed by a moderator"), actor=actor)
    from .tasks import learn_from_decisions

    circle_id = circle.id
    transaction.on_commit(lambda: learn_from_decisions.enqueue(circle_id=circle_id))
    return item
