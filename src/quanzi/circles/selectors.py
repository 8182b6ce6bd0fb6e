"""Reusable reads for circles: lists, filters and counts the web pages and the REST API share.

Each function answers one question with one queryset, so both layers list, filter and
order the same rows. Permission checks stay with the callers (``rules.check_*``): these
functions assume the caller may see what they ask for.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from django.db.models import Case, Count, IntegerField, Q, QuerySet, Value, When

from quanzi.core.models import AuditEntry

from .models import (
    ROLE_RANK,
    Circle,
    Invite,
    JoinRequest,
    JoinRequestStatus,
    Membership,
    MembershipStatus,
    Role,
    Visibility,
)

if TYPE_CHECKING:
    from quanzi.accounts.models import User

# --- circle lists -------------------------------------------------------------------------


def _circle_search(q: str, prefix: str = "") -> Q:
    return Q(**{f"{prefix}name__icontains": q}) | Q(**{f"{prefix}description__icontains": q})


def my_memberships(user: User, *, q: str = "") -> QuerySet[Membership]:
    """"My circles": the user's active memberships with their circle loaded, by circle name.

    Rows are memberships rather than circles because every caller also shows the role.
    ``q`` matches the circle's name or description.
    """
    qs = Membership.objects.filter(user=user, status=MembershipStatus.ACTIVE).select_related("circle")
    if q.strip():
        qs = qs.filter(_circle_search(q.strip(), "circle__"))
    return qs.order_by("circle__name", "circle_id")


def public_circles(*, q: str = "", exclude_ids: Iterable[int] = ()) -> QuerySet[Circle]:
    """Listed (public) circles, biggest first; ``exclude_ids`` drops circles already shown."""
    qs = Circle.objects.filter(visibility=Visibility.PUBLIC)
    if q.strip():
        qs = qs.filter(_circle_search(q.strip()))
    exclude_ids = list(exclude_ids)
    if exclude_ids:
        qs = qs.exclude(id__in=exclude_ids)
    return qs.order_by("-member_count", "-id")


def memberships_by_circle(user: User, circle_ids: Iterable[int]) -> dict[int, Membership]:
    """The user's membership row (any status) in each of these circles, keyed by circle id."""
    return {m.circle_id: m for m in Membership.objects.filter(user=user, circle_id__in=list(circle_ids))}


# --- members ------------------------------------------------------------------------------

MemberOrder = Literal["joined", "username"]


def _role_rank() -> Case:
    return Case(
        *(When(role=role, then=Value(rank)) for role, rank in ROLE_RANK.items()),
        default=Value(0),
        output_field=IntegerField(),
    )


def circle_members(
    circle: Circle,
    *,
    status: str = MembershipStatus.ACTIVE,
    role: str | None = None,
    q: str = "",
    order: MemberOrder = "joined",
) -> QuerySet[Membership]:
    """Memberships of one status, owner first, with the user loaded.

    ``q`` matches username or display name. Within a role, ``order`` puts them in join
    order (stable pages for the API) or by username (easy scanning on the web page).
    Listing any status but active is for moderators: see ``rules.check_view_former_members``.
    """
    qs = Membership.objects.filter(circle=circle, status=status).select_related("user")
    if role:
        qs = qs.filter(role=role)
    if q.strip():
        qs = qs.filter(Q(user__username__icontains=q.strip()) | Q(user__display_name__icontains=q.strip()))
    then = ("joined_at", "id") if order == "joined" else ("user__username",)
    return qs.annotate(role_rank=_role_rank()).order_by("-role_rank", *then)


# --- join requests and invites ------------------------------------------------------------


def join_requests(circle: Circle, *, status: str = JoinRequestStatus.PENDING) -> QuerySet[JoinRequest]:
    """Join requests of one status, oldest first (the order moderators work through them)."""
    return (
        JoinRequest.objects.filter(circle=circle, status=status)
        .select_related("user", "decided_by")
        .order_by("id")
    )


def recent_join_decisions(circle: Circle, *, limit: int = 20) -> list[JoinRequest]:
    """The latest approved, rejected or cancelled requests, newest first."""
    return list(
        JoinRequest.objects.filter(circle=circle)
        .exclude(status=JoinRequestStatus.PENDING)
        .select_related("user", "decided_by")
        .order_by("-id")[:limit]
    )


def pending_join_request(circle: Circle, user: User) -> JoinRequest | None:
    """The user's open request to join this circle, if any."""
    if not user.is_authenticated:
        return None
    return JoinRequest.objects.filter(circle=circle, user=user, status=JoinRequestStatus.PENDING).first()


def pending_join_request_count(circle: Circle) -> int:
    return JoinRequest.objects.filter(circle=circle, status=JoinRequestStatus.PENDING).count()


def circle_invites(circle: Circle, *, include_revoked: bool) -> QuerySet[Invite]:
    """Invite links of the circle, newest first, with their creator loaded."""
    qs = Invite.objects.filter(circle=circle).select_related("created_by").order_by("-id")
    return qs if include_revoked else qs.filter(revoked_at__isnull=True)


# --- the audit log ------------------------------------------------------------------------


def _user_match(field: str, value: str, *, match_ids: bool) -> Q:
    value = value.strip()
    if match_ids and value.isascii() and value.isdigit() and len(value) <= 18:
        return Q(**{f"{field}_id": int(value)})
    return Q(**{f"{field}__username__iexact": value})


def audit_entries(
    circle: Circle,
    *,
    action: str = "",
    actor: str = "",
    target: str = "",
    match_ids: bool = True,
    match_target_text: bool = False,
) -> QuerySet[AuditEntry]:
    """The circle's audit log, newest first, with actor and target users loaded.

    ``action`` is an exact action name, or a prefix when it ends in ``.`` (``member.``).
    ``actor`` / ``target`` name a user by username, or by an all-digit user id unless
    ``match_ids`` is off (the web form takes usernames only). With ``match_target_text``
    the target may also be text in the entry's target description.
    """
    qs = AuditEntry.objects.filter(circle=circle).select_related("actor", "target_user").order_by("-id")
    if action:
        qs = qs.filter(action__startswith=action) if action.endswith(".") else qs.filter(action=action)
    if actor:
        qs = qs.filter(_user_match("actor", actor, match_ids=match_ids))
    if target:
        wanted = _user_match("target_user", target, match_ids=match_ids)
        if match_target_text:
            wanted |= Q(target_repr__icontains=target.strip())
        qs = qs.filter(wanted)
    return qs


def audit_action_names(circle: Circle) -> list[str]:
    """Every action name that occurs in the circle's audit log, sorted (for a filter menu)."""
    return sorted(AuditEntry.objects.filter(circle=circle).order_by().values_list("action", flat=True).distinct())


# --- statistics ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FollowStats:
    followers: int
    active_members: int

    @property
    def rate(self) -> float:
        """Followers per active member (0 for an empty circle)."""
        return self.followers / self.active_members if self.active_members else 0.0

    @property
    def percent(self) -> int:
        return round(self.rate * 100)


@dataclass(frozen=True)
class CircleStats:
    by_role: dict[str, int] = field(default_factory=dict)
    follow: FollowStats | None = None  # None when the circle has no announcement channel

    @property
    def member_count(self) -> int:
        return sum(self.by_role.values())

    @property
    def followers(self) -> int:
        return self.follow.followers if self.follow else 0


def circle_stats(circle: Circle) -> CircleStats:
    """Active members by role and how many follow the announcement channel, in one query."""
    by_role = {role: 0 for role in Role.values}
    followers = 0
    rows = (
        Membership.objects.filter(circle=circle, status=MembershipStatus.ACTIVE)
        .values("role")
        .annotate(n=Count("id"), following=Count("id", filter=Q(follows_channel=True)))
        .order_by()
    )
    for row in rows:
        by_role[row["role"]] = row["n"]
        followers += row["following"]
    follow = FollowStats(followers, sum(by_role.values())) if circle.channel_group_id else None
    return CircleStats(by_role=by_role, follow=follow)


def channel_follow_stats(circle: Circle) -> FollowStats | None:
    """How many active members follow the announcement channel, or None without a channel."""
    if not circle.channel_group_id:
        return None
    return circle_stats(circle).follow
