"""Writers of the search index: index_document, remove_document, reindexing.

Each write is one statement (an upsert or a delete), cheap enough to run right after the commit
of a chat message.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from . import sources
from .models import SearchDocument

_UPDATE_FIELDS = ["circle", "group", "visibility", "title", "text", "folded", "indexed_at"]


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
    deleted, _rows = SearchDocument.objects.filter(kind=kind, object_id=object_id).delete()
    return deleted


def index_object(kind: str, object_id: int) -> bool:
    """(Re)index one object from its own table; removes its row if it should not be found now."""
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
