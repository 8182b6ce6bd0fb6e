"""What each kind of content puts into the index, read from its own tables.

One function per kind returns the rows to index for some ids (or a whole circle): the signal
receivers use it for one object, ``search_reindex`` for a circle in batches. Content that nobody
but its author or moderators may see (deleted, held, removed) yields no row, so it is not indexed
until it becomes visible.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import QuerySet

from .models import SearchDocument
from .text import MAX_INDEXED_CHARS, fold, normalize


def _document(kind: str, object_id: int, circle_id: int, text: str, *, title: str = "", group_id=None,
              visibility: str = "", created_at=None) -> SearchDocument | None:
    title = normalize(title)[:300]
    body = normalize(text)[:MAX_INDEXED_CHARS]
    if not body and not title:
        return None
    return SearchDocument(
        kind=kind, object_id=object_id, circle_id=circle_id, group_id=group_id, visibility=visibility[:32],
        title=title, text=body, folded=fold(f"{title} {body}" if title else body), created_at=created_at,
    )


def _restrict(qs: QuerySet, ids: list[int] | None, circle_id: int | None, circle_field: str) -> QuerySet:
    if ids is not None:
        qs = qs.filter(id__in=ids)
    if circle_id is not None:
        qs = qs.filter(**{circle_field: circle_id})
    return qs.order_by("id")


def messages(ids: list[int] | None = None, circle_id: int | None = None) -> Iterator[SearchDocument]:
    from quanzi.chat.models import Message, MessageKind, ModerationState

    qs = Message.objects.filter(deleted_at__isnull=True, moderation_state=ModerationState.VISIBLE,
                                kind=MessageKind.TEXT)
    rows = _restrict(qs, ids, circle_id, "group__circle_id").values_list(
        "id", "group__circle_id", "group_id", "group__kind", "group__name", "body", "created_at"
    )
    for message_id, cid, group_id, group_kind, group_name, body, created_at in rows.iterator(chunk_size=1000):
        doc = _document("message", message_id, cid, body, group_id=group_id, visibility=group_kind,
                        created_at=created_at)
        if doc is not None:
            doc.title = normalize(group_name)[:300]  # shown with the hit, not matched
            yield doc


def posts(ids: list[int] | None = None, circle_id: int | None = None) -> Iterator[SearchDocument]:
    from quanzi.chat.models import ModerationState
    from quanzi.feed.models import Post

    qs = Post.objects.filter(deleted_at__isnull=True, moderation_state=ModerationState.VISIBLE)
    rows = _restrict(qs, ids, circle_id, "circle_id").values_list(
        "id", "circle_id", "title", "body", "visibility", "created_at"
    )
    for post_id, cid, title, body, visibility, created_at in rows.iterator(chunk_size=1000):
        doc = _document("post", post_id, cid, body, title=title, visibility=visibility, created_at=created_at)
        if doc is not None:
            yield doc


def comments(ids: list[int] | None = None, circle_id: int | None = None) -> Iterator[SearchDocument]:
    from quanzi.chat.models import ModerationState
    from quanzi.feed.models import Comment

    qs = Comment.objects.filter(deleted_at__isnull=True, moderation_state=ModerationState.VISIBLE,
                                post__deleted_at__isnull=True)
    rows = _restrict(qs, ids, circle_id, "circle_id").values_list(
        "id", "circle_id", "post__title", "body", "post__visibility", "created_at"
    )
    for comment_id, cid, post_title, body, visibility, created_at in rows.iterator(chunk_size=1000):
        doc = _document("comment", comment_id, cid, body, visibility=visibility, created_at=created_at)
        if doc is not None:
            doc.title = normalize(post_title)[:300]  # shown with the hit, not matched
            yield doc


def files(ids: list[int] | None = None, circle_id: int | None = None) -> Iterator[SearchDocument]:
    from quanzi.archive.models import CircleFile

    qs = CircleFile.objects.filter(deleted_at__isnull=True)
    rows = _restrict(qs, ids, circle_id, "circle_id").values_list("id", "circle_id", "name", "kind", "created_at")
    for file_id, cid, name, file_kind, created_at in rows.iterator(chunk_size=1000):
        doc = _document("file", file_id, cid, name, title=name, visibility=file_kind, created_at=created_at)
        if doc is not None:
            doc.text = doc.title
            doc.folded = fold(doc.title)
            yield doc


def snapshots(ids: list[int] | None = None, circle_id: int | None = None) -> Iterator[SearchDocument]:
    from quanzi.archive.models import LinkSnapshot, SnapshotStatus

    qs = LinkSnapshot.objects.filter(status=SnapshotStatus.OK)
    rows = _restrict(qs, ids, circle_id, "circle_id").values_list(
        "id", "circle_id", "title", "description", "text", "final_url", "url", "fetched_at"
    )
    for snapshot_id, cid, title, description, text, final_url, url, fetched_at in rows.iterator(chunk_size=200):
        body = "\n".join(part for part in (description, text, final_url or url) if part)
        doc = _document("snapshot", snapshot_id, cid, body, title=title or final_url or url, created_at=fetched_at)
        if doc is not None:
            yield doc


SOURCES = {"message": messages, "post": posts, "comment": comments, "file": files, "snapshot": snapshots}
