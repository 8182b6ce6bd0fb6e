"""Reusable reads for chat: serialisation, history pages, unread counts, groups, pins, notices."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from quanzi.circles.models import Membership, MembershipStatus

from .models import Group, GroupKind, GroupMember, Message, ModerationState, Notice

if TYPE_CHECKING:
    from quanzi.accounts.models import User


def user_brief(user) -> dict[str, Any] | None:
    if user is None:
        return None
    return {
        "id": user.id,
        "username": user.username,
        "name": user.display_name or user.username,
        "avatar": user.avatar.url if getattr(user, "avatar", None) else None,
    }


def message_to_dict(
    message: Message,
    *,
    author: Any = ...,
    reply_to: Any = ...,
    mentioned_ids: list[int] | None = None,
) -> dict[str, Any]:
    """The one JSON shape of a message, used by the API, the web UI and the WebSocket."""
    if author is ...:
        author = message.author
    if reply_to is ...:
        reply_to = message.reply_to if message.reply_to_id else None
    deleted = message.deleted_at is not None
    return {
        "id": message.id,
        "group_id": message.group_id,
        "kind": message.kind,
        "author": user_brief(author),
        "body": "" if deleted else message.body,
        "html": "" if deleted else message.body_html,
        "reply_to": (
            {"id": reply_to.id, "author_id": reply_to.author_id, "excerpt": reply_to.body[:120]}
            if reply_to is not None
            else None
        ),
        "mentions": mentioned_ids if mentioned_ids is not None else [],
        "mentions_all": message.mentions_all,
        "created_at": message.created_at.isoformat(),
        "edited_at": message.edited_at.isoformat() if message.edited_at else None,
        "deleted": deleted,
        "pinned": message.pinned_at is not None,
        "client_id": message.client_id or None,
        "moderation_state": message.moderation_state,
    }


def notice_to_dict(notice: Notice) -> dict[str, Any]:
    return {
        "id": notice.id,
        "kind": notice.kind,
        "circle_id": notice.circle_id,
        "text": notice.text,
        "message_id": notice.message_id,
        "created_at": notice.created_at.isoformat(),
        "read": notice.read_at is not None,
    }


def message_page(
    group: Group, *, before: int | None = None, after: int | None = None, limit: int | None = None,
    viewer_id: int | None = None,
) -> tuple[list[Message], bool]:
    """Up to ``limit`` messages in id order, and whether more exist in the paging direction.

    ``after`` pages forward (what a reconnecting client missed); otherwise it pages
    backward from ``before`` (or the newest).
    """
    limit = max(1, min(int(limit or settings.QUANZI_PAGE_SIZE), 200))
    # Held messages (moderation) are shown only to their author; removed ones to nobody.
    shown = Q(moderation_state=ModerationState.VISIBLE)
    if viewer_id is not None:
        shown |= Q(moderation_state=ModerationState.HELD, author_id=viewer_id)
    qs = Message.objects.filter(shown, group=group).select_related("author", "reply_to")
    if after is not None:
        rows = list(qs.filter(id__gt=after).order_by("id")[: limit + 1])
        more = len(rows) > limit
        return rows[:limit], more
    if before is not None:
        qs = qs.filter(id__lt=before)
    rows = list(qs.order_by("-id")[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    rows.reverse()
    return rows, more


def mentioned_ids_for(messages: list[Message]) -> dict[int, list[int]]:
    through = Message.mentioned_users.through
    out: dict[int, list[int]] = {}
    for mid, uid in through.objects.filter(message_id__in=[m.id for m in messages]).values_list(
        "message_id", "user_id"
    ):
        out.setdefault(mid, []).append(uid)
    return out


def messages_to_dicts(messages: list[Message]) -> list[dict[str, Any]]:
    mentions = mentioned_ids_for(messages)
    return [message_to_dict(m, mentioned_ids=mentions.get(m.id, [])) for m in messages]


@dataclass(frozen=True)
class GroupUnread:
    group_id: int
    circle_id: int
    unread: int


def unread_by_group(user: User, *, circle_id: int | None = None) -> list[GroupUnread]:
    """Unread messages (by others, not deleted) in every group the user sits in, by group id.

    One query for all groups: each seat counts the messages past its read marker in a
    correlated subquery, which walks the (group, id) index from the marker on. (A plain
    join of seats to messages, tried first, made PostgreSQL read every message of the
    user's groups: 31 ms against 0.06 ms with 1M messages.)
    """
    unread = (
        Message.objects.filter(
            group_id=OuterRef("group_id"), id__gt=OuterRef("last_read_message_id"), deleted_at__isnull=True,
            moderation_state=ModerationState.VISIBLE,
        )
        .exclude(author_id=user.id)  # keeps messages without an author (system messages)
        .order_by()
        .values("group_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    seats = GroupMember.objects.filter(user=user)
    if circle_id is not None:
        seats = seats.filter(group__circle_id=circle_id)
    # DM seats outlive a membership (chat DMs): they count only while the user is an active member.
    active = Membership.objects.filter(circle_id=OuterRef("group__circle_id"), user=user,
                                       status=MembershipStatus.ACTIVE)
    seats = seats.filter(~Q(group__kind=GroupKind.DM) | Exists(active))
    rows = (
        seats.annotate(unread=Coalesce(Subquery(unread), 0))
        .order_by("group_id")
        .values_list("group_id", "group__circle_id", "unread")
    )
    return [GroupUnread(*row) for row in rows]


def unread_counts(user: User, *, circle_id: int | None = None) -> dict[int, int]:
    """Unread messages per group the user is in (messages by others, not deleted)."""
    return {row.group_id: row.unread for row in unread_by_group(user, circle_id=circle_id)}


def unread_by_circle(user: User) -> dict[int, int]:
    """Unread messages summed per circle, over the groups the user sits in."""
    totals: dict[int, int] = {}
    for row in unread_by_group(user):
        totals[row.circle_id] = totals.get(row.circle_id, 0) + row.unread
    return totals


def open_groups(circle_id: int) -> QuerySet[Group]:
    """The circle's groups that are not archived, oldest first (DM conversations are not groups
    anyone lists, joins or manages: ``chat.dms`` lists them for their two people)."""
    return (
        Group.objects.filter(circle_id=circle_id, archived_at__isnull=True)
        .exclude(kind=GroupKind.DM)
        .order_by("id")
    )


def groups_for_member(user: User, circle_id: int, *, joined_only: bool = False) -> QuerySet[Group]:
    """Open groups of a circle with ``joined_seat`` (None if not joined) and ``member_total``."""
    joined = GroupMember.objects.filter(group=OuterRef("pk"), user=user).values("id")[:1]
    groups = open_groups(circle_id).annotate(
        joined_seat=Subquery(joined), member_total=Count("members", distinct=True)
    )
    return groups.filter(joined_seat__isnull=False) if joined_only else groups


def pinned_messages(group: Group, *, limit: int = 100) -> list[Message]:
    """Pinned messages that still exist, most recently pinned first."""
    return list(
        Message.objects.filter(group=group, pinned_at__isnull=False, deleted_at__isnull=True,
                               moderation_state=ModerationState.VISIBLE)
        .select_related("author", "reply_to")
        .order_by("-pinned_at")[:limit]
    )


def notices_for(user: User, *, unread_only: bool = False) -> QuerySet[Notice]:
    """The user's personal notices, newest first."""
    qs = Notice.objects.filter(user=user).order_by("-id")
    return qs.filter(read_at__isnull=True) if unread_only else qs


def group_ids_for_user(user_id: int) -> list[tuple[int, int]]:
    """(circle_id, group_id) of every group the user sits in, in active circles."""
    return list(
        GroupMember.objects.filter(
            user_id=user_id,
            group__circle__memberships__user_id=user_id,
            group__circle__memberships__status="active",
        ).values_list("group__circle_id", "group_id")
    )


def unread_notice_count(user: User) -> int:
    return Notice.objects.filter(user=user, read_at__isnull=True).count()
