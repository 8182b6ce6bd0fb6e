"""Writers of the search index: index_document, remove_document, reindexing.

Each write is one statement (an upsert or a delete), cheap enough to run right after the commit
of a chat message.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from . import sources
from .models import SearchDocument
from .text import MAX_INDEXED_CHARS, fold, normalize

_UPDATE_FIELDS = ["circle", "group", "visibility", "title", "text", "folded", "indexed_at"]

# Indexing a chat message runs right after every send, so (as in chat's do_send_message) it uses two
# prepared statements instead of querysets, whose construction costs more than running them.
_MESSAGE_SQL = {
    "read": "SELECT g.circle_id, m.group_id, g.kind, g.name, m.body, m.created_at FROM {message} m"
    " JOIN {group} g ON g.id = m.group_id"
    " WHERE m.id = %s AND m.deleted_at IS NULL AND m.moderation_state = %s AND m.kind = %s",
    "upsert": "INSERT INTO {doc} (kind, object_id, circle_id, group_id, visibility, title, text, folded, created_at,"
    " indexed_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (kind, object_id) DO UPDATE SET"
    " circle_id = excluded.circle_id, group_id = excluded.group_id, visibility = excluded.visibility,"
    " title = excluded.title, text = excluded.text, folded = excluded.folded, indexed_at = excluded.indexed_at",
    "delete": "DELETE FROM {doc} WHERE kind = %s AND object_id = %s",
}


@functools.cache
def _sql() -> dict[str, str]:
    from quanzi.chat.models import Group, Message

    q = connection.ops.quote_name
    names = {"message": q(Message._meta.db_table), "group": q(Group._meta.db_table),
             "doc": q(SearchDocument._meta.db_table)}
    return {key: template.format(**names) for key, template in _MESSAGE_SQL.items()}


def index_message(message_id: int) -> bool:
    """(Re)index one chat message: a primary-key read and one upsert (or delete if it should not be found)."""
    from quanzi.chat.models import MessageKind, ModerationState

    sql = _sql()
    with connection.cursor() as cursor:
        cursor.execute(sql["read"], [message_id, ModerationState.VISIBLE, MessageKind.TEXT])
        row = cursor.fetchone()
        body = normalize(row[4])[:MAX_INDEXED_CHARS] if row else ""
        if not body:
            cursor.execute(sql["delete"], ["message", message_id])
            return False
        circle_id, group_id, group_kind, group_name, _body, created_at = row
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        cursor.execute(sql["upsert"], ["message", message_id, circle_id, group_id, group_kind[:32],
                                       normalize(group_name)[:300], body, fold(body), created_at, now])
    return True


def save_documents(documents: Iterable[SearchDocument]) -> int:
    """Insert or replace index rows (keyed by kind and object id); returns how many."""
    now = timezone.now()
    batch = []
    for doc in documents:
        doc.indexed_at = now
        doc.created_at = doc.created_at or now
        batch.append(doc)
    if batch:
        SearchDocument.objects.bulk_create(
            batch, update_conflicts=True, unique_fields=["kind", "object_id"], update_fields=_UPDATE_FIELDS
        )
    return len(batch)


def index_document(
    kind: str,
    object_id: int,
    circle_id: int,
    text: str,
    *,
    group_id: int | None = None,
    visibility: str = "",
    title: str = "",
    created_at: datetime | None = None,
) -> None:
    """Add or replace the index row of one piece of content (one upsert); empty text removes it.

    Callers index only content others may see (not held, not deleted); who sees a hit is still
    decided at query time by ``search.rules``.
    """
    doc = sources._document(kind, object_id, circle_id, text, title=title, group_id=group_id,
                            visibility=visibility, created_at=created_at)
    if doc is None:
        remove_document(kind, object_id)
    else:
        save_documents([doc])


def remove_document(kind: str, object_id: int) -> int:
    with connection.cursor() as cursor:  # one statement, no cascade collection (nothing points at index rows)
        cursor.execute(_sql()["delete"], [kind, object_id])
        return cursor.rowcount


def index_object(kind: str, object_id: int) -> bool:
    """(Re)index one object from its own table; removes its row if it should not be found now."""
    if kind == "message":
        return index_message(object_id)
    source = sources.SOURCES.get(kind)
    if source is None:
        return False
    documents = list(source(ids=[object_id]))
    if documents:
        save_documents(documents)
        return True
    remove_document(kind, object_id)
    return False


def reindex(circle_id: int | None = None, *, kinds: list[str] | None = None, batch_size: int = 500) -> dict[str, int]:
    """Rebuild the index of one circle (or all), kind by kind; returns the row count per kind."""
    counts: dict[str, int] = {}
    for kind, source in sources.SOURCES.items():
        if kinds and kind not in kinds:
            continue
        with transaction.atomic():
            stale = SearchDocument.objects.filter(kind=kind)
            if circle_id is not None:
                stale = stale.filter(circle_id=circle_id)
            stale.delete()
            total = 0
            batch: list[SearchDocument] = []
            for doc in source(circle_id=circle_id):
                batch.append(doc)
                if len(batch) >= batch_size:
                    total += save_documents(batch)
                    batch = []
            total += save_documents(batch)
        counts[kind] = total
    return counts
