"""Reusable reads of the feed: cursor pages of posts and comments, and visibility checks.

Every list is a keyset page (no OFFSET): the cursor is the sort key of the last row shown,
so page 5,000 costs what page 1 costs. A page of posts is a fixed number of queries whatever
it holds: the posts with their authors (one query), the viewer's likes among them (one),
their attachments with files (one), and, for moderators, the authors' roles (one). Tags and
counts are columns of the post.

Rows are read with ``values()`` and turned into plain dicts (the API's JSON shape, which the
templates render too): the feed is the hottest read of the app.
"""

from __future__ import annotations

import base64
import binascii
import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.files.storage import default_storage
from django.db.models import F
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan
from django.utils.translation import gettext as _

from quanzi.circles.models import Circle, Membership
from quanzi.core.errors import InvalidInput, NotFound
from quanzi.core.ids import as_db_id

from . import fastsql, rules
from .models import Comment, CommentLike, Post, PostTag
from .rules import Viewer

DEFAULT_PAGE = 20
MAX_PAGE = 50

# --- cursors ------------------------------------------------------------------------------


def _micros(moment: datetime) -> int:
    delta = moment.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _from_micros(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


def encode_cursor(*parts: int) -> str:
    raw = ".".join(str(int(p)) for p in parts).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _bad_cursor() -> InvalidInput:
    return InvalidInput(_("This page cursor is not valid; start again from the first page."), code="invalid_cursor")


def decode_cursor(cursor: str, size: int) -> tuple[int, ...]:
    """The integers of a cursor made by :func:`encode_cursor`; a clear 400 for anything else."""
    if not isinstance(cursor, str) or not 1 <= len(cursor) <= 120 or not cursor.isascii():
        raise _bad_cursor()
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, ValueError):
        raise _bad_cursor() from None
    pieces = text.split(".")
    if len(pieces) != size or not all(p.isdigit() and len(p) <= 19 for p in pieces):
        raise _bad_cursor()
    values = tuple(int(p) for p in pieces)
    if any(v > 2**63 - 1 for v in values):
        raise _bad_cursor()
    return values


# --- posts --------------------------------------------------------------------------------

@functools.lru_cache(maxsize=4096)
def _avatar_url(name: str) -> str:
    return default_storage.url(name)


def _avatar(name: str | None) -> str | None:
    """Avatar names are unique (a new picture gets a new name), so their URLs can be remembered."""
    return _avatar_url(name) if name else None


def author_dict(author_id: int | None, username: str, display_name: str, avatar: str | None) -> dict[str, Any] | None:
    """A post's or comment's author in the API's shape (``UserBrief``); None for a deleted account."""
    if author_id is None:
        return None
    return {"id": author_id, "username": username, "name": display_name or username, "avatar": _avatar(avatar)}


def _author(row: dict[str, Any]) -> dict[str, Any] | None:
    return author_dict(row["author_id"], row["author__username"], row["author__display_name"], row["author__avatar"])


def attachment_dicts(post_ids: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
    """Each post's attached files in position order (one query), with their download URLs."""
    ids = list(post_ids)
    out: dict[int, list[dict[str, Any]]] = {pid: [] for pid in ids}
    if not ids:
        return out
    for row in fastsql.attachment_rows(ids):
        out[row["post_id"]].append(_attachment(row))
    return out


def _attachment(row: dict[str, Any]) -> dict[str, Any]:
    from . import attachments

    public_id = row["file__public_id"]
    return {
        "id": public_id,
        "name": row["file__name"],
        "kind": row["file__kind"],
        "size": row["file__blob__size"],
        "content_type": row["file__blob__content_type"],
        "url": attachments.download_url(public_id),
        "thumbnail_url": attachments.thumbnail_url(public_id) if row["file__thumbnail_id"] else None,
    }


def post_flags(author_id: int | None, viewer: Viewer, roles: dict[int, str]) -> tuple[bool, bool]:
    """(can_edit, can_delete) of a post by ``author_id`` for the viewer; ``roles``: ``author_roles``."""
    is_author = author_id is not None and author_id == viewer.user_id
    if viewer.moderator:
        can_delete = rules.can_delete(viewer.membership, is_author=is_author, author_role=roles.get(author_id))
    else:  # what rules.can_delete answers for members, without the role lookups per row
        can_delete = is_author and viewer.active
    return is_author and viewer.active, can_delete


def _post_dict(row: dict[str, Any], viewer: Viewer, files: dict[int, list], roles: dict[int, str]) -> dict[str, Any]:
    can_edit, can_delete = post_flags(row["author_id"], viewer, roles)
    return {
        "id": row["id"],
        "circle_id": row["circle_id"],
        "author": _author(row),
        "title": row["title"],
        "body": row["body"],
        "html": row["body_html"],
        "tags": row["tags"] or [],
        "visibility": row["visibility"],
        "plan_id": row["plan_id"],
        "moderation_state": row["moderation_state"],
        "pinned": row["pinned"],
        "featured": row["featured"],
        "like_count": row["like_count"],
        "comment_count": row["comment_count"],
        "liked": row["liked"],
        "created_at": row["created_at"],
        "edited_at": row["edited_at"],
        "attachments": files.get(row["id"], []),
        "can_edit": can_edit,
        "can_delete": can_delete,
    }


def author_roles(circle_id: int, viewer: Viewer, author_ids: set[int]) -> dict[int, str]:
    """Authors' roles, needed only to tell moderators which delete buttons work (members: own only)."""
    if not viewer.moderator or not author_ids:
        return {}
    return fastsql.author_roles(circle_id, sorted(author_ids))


def post_dicts(rows: list[dict[str, Any]], viewer: Viewer, circle_id: int) -> list[dict[str, Any]]:
    """API/page dicts of ``fastsql.post_rows`` rows (which say whether the viewer liked each post)."""
    files = attachment_dicts([r["id"] for r in rows])
    roles = author_roles(circle_id, viewer, {r["author_id"] for r in rows if r["author_id"] is not None})
    return [_post_dict(r, viewer, files, roles) for r in rows]


@dataclass
class PostPage:
    items: list[dict[str, Any]]
    next_cursor: str | None


def _post_cursor(row: dict[str, Any]) -> str:
    return post_cursor(row["pinned"], row["created_at"], row["id"])


def visible_posts(circle: Circle, viewer: Viewer):
    """The viewer's visible, undeleted posts of the circle (unordered)."""
    return Post.objects.filter(circle_id=circle.id, deleted_at__isnull=True).filter(rules.post_filter(viewer))


def page_limit(limit: int) -> int:
    """A feed page's size: ``limit`` within 1..``MAX_PAGE``."""
    return max(1, min(int(limit), MAX_PAGE))


def page_arguments(cursor: str | None, tag: str | None) -> tuple[tuple[bool, datetime, int] | None, str | None]:
    """(where the page starts, the tag as stored) from a feed page's ``cursor`` and ``tag``; 400 if invalid."""
    tag_name = None
    if tag:
        from .actions import clean_tag

        tag_name = clean_tag(tag)
    after = None
    if cursor:
        pinned, micros, last_id = decode_cursor(cursor, 3)
        if pinned > 1:
            raise _bad_cursor()
        try:
            moment = _from_micros(micros)
        except OverflowError:  # digits that pass decode_cursor but are past year 9999
            raise _bad_cursor() from None
        after = (bool(pinned), moment, last_id)
    return after, tag_name


def post_cursor(pinned: bool, created_at: datetime, post_id: int) -> str:
    """The cursor of the page after the post with these sort keys."""
    return encode_cursor(1 if pinned else 0, _micros(created_at), post_id)


def feed_page(circle: Circle, viewer: Viewer, *, cursor: str | None = None, limit: int = DEFAULT_PAGE,
              featured: bool = False, tag: str | None = None) -> PostPage:
    """One page of the feed: pinned posts first, then newest first (ties broken by id).

    ``cursor`` is ``next_cursor`` of the previous page. ``featured`` keeps the posts admins
    featured (精华); ``tag`` keeps posts with that tag.
    """
    limit = page_limit(limit)
    if not viewer.active:
        return PostPage([], None)
    after, tag_name = page_arguments(cursor, tag)
    rows = fastsql.post_rows(circle.id, viewer, after=after, limit=limit + 1, featured=featured, tag=tag_name)
    more = len(rows) > limit
    rows = rows[:limit]
    return PostPage(post_dicts(rows, viewer, circle.id), _post_cursor(rows[-1]) if more and rows else None)


def access_post(circle: Circle, viewer: Viewer, post_id: object) -> Post:
    """A post of this circle the viewer may see; missing, deleted and hidden ones are the same 404."""
    pid = as_db_id(post_id)
    post = visible_posts(circle, viewer).filter(id=pid).first() if pid else None
    if post is None:
        raise NotFound(_("No such post."), code="post_not_found")
    return post


def post_detail(circle: Circle, viewer: Viewer, post_id: object) -> dict[str, Any]:
    pid = as_db_id(post_id)
    rows = fastsql.post_rows(circle.id, viewer, post_id=pid, limit=1) if pid and viewer.active else []
    if not rows:
        raise NotFound(_("No such post."), code="post_not_found")
    return post_dicts(rows, viewer, circle.id)[0]


def can_view_post(user, post: Post) -> bool:
    """Whether ``user`` may see ``post`` (and so its attached files): the archive asks this."""
    return can_view_posts(user, [post]).get(post.id, False)


def can_view_posts(user, posts: Iterable[Post]) -> dict[int, bool]:
    """:func:`can_view_post` for many posts: one membership and one plan query per circle."""
    posts = list(posts)
    out = {p.id: False for p in posts}
    if user is None or not getattr(user, "is_authenticated", False) or not posts:
        return out
    circle_ids = {p.circle_id for p in posts}
    memberships = {m.circle_id: m for m in Membership.objects.filter(user=user, circle_id__in=circle_ids)}
    viewers = {cid: Viewer(memberships.get(cid)) for cid in circle_ids}
    for p in posts:
        out[p.id] = rules.can_view_post_fields(
            viewers[p.circle_id], author_id=p.author_id, visibility=p.visibility, plan_id=p.plan_id,
            moderation_state=p.moderation_state, deleted=p.deleted_at is not None,
        )
    return out


def can_view_post_ids(user, post_ids: Iterable[int]) -> dict[int, bool]:
    """:func:`can_view_posts` by id (unknown ids answer False)."""
    ids = [i for i in {as_db_id(i) for i in post_ids} if i]
    answers = can_view_posts(user, Post.objects.filter(id__in=ids))
    return {i: answers.get(i, False) for i in ids}


# --- comments -----------------------------------------------------------------------------

_COMMENT_FIELDS = (
    "id", "post_id", "parent_id", "thread_id", "author_id", "reply_to_user_id", "body", "body_html",
    "moderation_state", "like_count", "created_at", "edited_at", "author__username", "author__display_name",
    "author__avatar", "reply_to_user__username",
)


@dataclass
class CommentPage:
    items: list[dict[str, Any]]
    next_cursor: str | None


def visible_comments(post: Post, viewer: Viewer):
    return Comment.objects.filter(post_id=post.id, deleted_at__isnull=True).filter(rules.comment_filter(viewer))


def comment_page(post: Post, viewer: Viewer, *, cursor: str | None = None, limit: int = DEFAULT_PAGE) -> CommentPage:
    """Comments oldest first, each top-level comment followed by its replies (keyset on thread, id)."""
    limit = max(1, min(int(limit), MAX_PAGE * 2))
    qs = visible_comments(post, viewer)
    if cursor:
        thread, last_id = decode_cursor(cursor, 2)
        qs = qs.filter(TupleGreaterThan(Tuple(F("thread_id"), F("id")), (thread, last_id)))
    rows = list(qs.order_by("thread_id", "id").values(*_COMMENT_FIELDS)[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    return CommentPage(comment_dicts(rows, viewer, post.circle_id),
                       encode_cursor(rows[-1]["thread_id"], rows[-1]["id"]) if more and rows else None)


def comment_dicts(rows: list[dict[str, Any]], viewer: Viewer, circle_id: int) -> list[dict[str, Any]]:
    ids = [r["id"] for r in rows]
    liked: set[int] = set()
    if ids and viewer.user_id is not None:
        liked = set(CommentLike.objects.filter(user_id=viewer.user_id, comment_id__in=ids)
                    .values_list("comment_id", flat=True))
    roles = author_roles(circle_id, viewer, {r["author_id"] for r in rows if r["author_id"] is not None})
    out = []
    for row in rows:
        is_author = row["author_id"] is not None and row["author_id"] == viewer.user_id
        out.append({
            "id": row["id"],
            "post_id": row["post_id"],
            "parent_id": row["parent_id"],
            "author": _author(row),
            "reply_to_user": row["reply_to_user__username"],
            "body": row["body"],
            "html": row["body_html"],
            "moderation_state": row["moderation_state"],
            "like_count": row["like_count"],
            "liked": row["id"] in liked,
            "created_at": row["created_at"],
            "edited_at": row["edited_at"],
            "can_delete": rules.can_delete(viewer.membership, is_author=is_author,
                                           author_role=roles.get(row["author_id"])),
        })
    return out


def comment_detail(comment: Comment, viewer: Viewer) -> dict[str, Any]:
    rows = list(Comment.objects.filter(id=comment.id).values(*_COMMENT_FIELDS))
    return comment_dicts(rows, viewer, comment.circle_id)[0]


def access_comment(circle: Circle, viewer: Viewer, comment_id: object) -> Comment:
    """A comment the viewer may see, on a post the viewer may see; anything else is the same 404."""
    cid = as_db_id(comment_id)
    comment = (
        Comment.objects.filter(id=cid, circle_id=circle.id, deleted_at__isnull=True)
        .filter(rules.comment_filter(viewer)).select_related("post").first() if cid else None
    )
    if comment is None or not rules.can_view_post_fields(
        viewer, author_id=comment.post.author_id, visibility=comment.post.visibility, plan_id=comment.post.plan_id,
        moderation_state=comment.post.moderation_state, deleted=comment.post.deleted_at is not None,
    ):
        raise NotFound(_("No such comment."), code="comment_not_found")
    return comment


def popular_tags(circle: Circle, limit: int = 20) -> list[str]:
    """The circle's most used tags, for the filter bar (counted over undeleted posts)."""
    from django.db.models import Count

    return list(
        PostTag.objects.filter(circle_id=circle.id, post__deleted_at__isnull=True)
        .values("name").annotate(n=Count("id")).order_by("-n", "name").values_list("name", flat=True)[:limit]
    )

