"""Who may see which piece of indexed content: the one permission module of search.

Every search hit is checked here at query time, by the content's own rules, so an index row that
outlived a permission (a member who left a group, a post later restricted, a message held by
moderation) shows nothing. Link snapshots use the same check for the content that cited them.

- message: an active member of the circle with a seat in the message's group (DM groups seat only
  their two participants); not deleted, moderation state visible.
- post / comment: the feed's visibility (``quanzi.feed.rules.post_filter`` / ``comment_filter``);
  a comment also needs its post to be visible.
- file: a circle file not deleted; if it is attached to content, that content must be visible.
- snapshot: an archived link page some visible content cites.
Unknown kinds are never visible (fail closed).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from quanzi.circles import rules as circle_rules
from quanzi.circles.models import Circle, Membership

KINDS = ("message", "post", "comment", "file", "snapshot")


def _message_ids(user, circle: Circle, ids: list[int]) -> set[int]:
    from quanzi.chat.models import GroupMember, Message, ModerationState

    seats = GroupMember.objects.filter(user_id=user.id, group__circle_id=circle.id).values("group_id")
    return set(
        Message.objects.filter(
            id__in=ids, group__circle_id=circle.id, group_id__in=seats, deleted_at__isnull=True,
            moderation_state=ModerationState.VISIBLE,
        ).values_list("id", flat=True)
    )


def _feed_viewer(membership: Membership):
    from quanzi.feed import rules as feed_rules

    return feed_rules.Viewer(membership)


def _post_ids(membership: Membership, circle: Circle, ids: list[int], viewer=None) -> set[int]:
    from quanzi.feed import rules as feed_rules
    from quanzi.feed.models import Post

    viewer = viewer or _feed_viewer(membership)
    return set(
        Post.objects.filter(id__in=ids, circle_id=circle.id, deleted_at__isnull=True)
        .filter(feed_rules.post_filter(viewer))
        .values_list("id", flat=True)
    )


def _comment_ids(membership: Membership, circle: Circle, ids: list[int], viewer=None) -> set[int]:
    from quanzi.feed import rules as feed_rules
    from quanzi.feed.models import Comment

    viewer = viewer or _feed_viewer(membership)
    return set(
        Comment.objects.filter(id__in=ids, circle_id=circle.id, deleted_at__isnull=True,
                               post__deleted_at__isnull=True)
        .filter(feed_rules.comment_filter(viewer))
        .filter(feed_rules.post_filter(viewer, prefix="post__"))
        .values_list("id", flat=True)
    )


def _file_ids(user, membership: Membership, circle: Circle, ids: list[int], depth: int) -> set[int]:
    from quanzi.archive.models import CircleFile

    rows = CircleFile.objects.filter(id__in=ids, circle_id=circle.id, deleted_at__isnull=True).values_list(
        "id", "attached_kind", "attached_id"
    )
    visible: set[int] = set()
    attached: dict[str, dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
    for file_id, attached_kind, attached_id in rows:
        if not attached_kind or attached_id is None:
            visible.add(file_id)  # a file of the circle's archive: every member sees it
        else:
            attached[attached_kind][attached_id].append(file_id)
    for kind, by_owner in attached.items():
        for owner_id in visible_ids(user, membership, circle, kind, list(by_owner), _depth=depth + 1):
            visible.update(by_owner[owner_id])
    return visible


def _snapshot_ids(user, membership: Membership, circle: Circle, ids: list[int], depth: int) -> set[int]:
    from quanzi.archive.models import SnapshotCitation

    citing: dict[str, dict[int, set[int]]] = defaultdict(lambda: defaultdict(set))
    for snapshot_id, kind, object_id in SnapshotCitation.objects.filter(
        snapshot_id__in=ids, snapshot__circle_id=circle.id
    ).values_list("snapshot_id", "kind", "object_id"):
        citing[kind][object_id].add(snapshot_id)
    visible: set[int] = set()
    for kind, by_content in citing.items():
        for content_id in visible_ids(user, membership, circle, kind, list(by_content), _depth=depth + 1):
            visible.update(by_content[content_id])
    return visible


def visible_ids(user, membership: Membership | None, circle: Circle, kind: str, ids: Iterable[int], *,
                _depth: int = 0) -> set[int]:
    """The subset of ``ids`` (content of ``kind`` in ``circle``) that ``user`` may see now."""
    ids = [int(i) for i in ids]
    if not ids or user is None or not getattr(user, "is_authenticated", False):
        return set()
    if not circle_rules.is_active(membership) or membership.circle_id != circle.id or _depth > 3:
        return set()
    if kind == "message":
        return _message_ids(user, circle, ids)
    if kind == "post":
        return _post_ids(membership, circle, ids)
    if kind == "comment":
        return _comment_ids(membership, circle, ids)
    if kind == "file":
        return _file_ids(user, membership, circle, ids, _depth)
    if kind == "snapshot":
        return _snapshot_ids(user, membership, circle, ids, _depth)
    return set()


def can_view(user, membership: Membership | None, circle: Circle, kind: str, object_id: int) -> bool:
    return int(object_id) in visible_ids(user, membership, circle, kind, [object_id])
