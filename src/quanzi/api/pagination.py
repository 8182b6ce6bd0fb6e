"""Limit/offset pages with a total count (messages use id cursors instead)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet

from .schemas import PageParams


def paginate(qs: QuerySet, page: PageParams, serialise: Callable[[Any], dict[str, Any]], **extra: Any) -> dict:
    total = qs.count()
    rows = list(qs[page.offset : page.offset + page.limit]) if page.offset < total else []
    return {"items": [serialise(row) for row in rows], "total": total, "limit": page.limit,
            "offset": page.offset, **extra}
