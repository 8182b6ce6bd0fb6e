"""REST operations of the search app: full-text search within a circle."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from quanzi.search import selectors

from .auth import current_user
from .circles import member_circle
from .schemas import Cursor, errors_for

router = Router(tags=["search"])


class SearchHitOut(Schema):
    kind: str = Field(description="message, post, comment, file or snapshot")
    object_id: int
    title: str
    snippet_html: str = Field(description="HTML-escaped excerpt with the matches in <mark>.")
    created_at: datetime
    url: str | None = Field(None, description="Web page of the hit, when it has one.")
    group_id: int | None = Field(None, description="Chat group of a message.")


class SearchPageOut(Schema):
    query: str
    items: list[SearchHitOut]
    next_cursor: int | None = Field(None, description="Pass as `cursor` for more (older) results.")


@router.get("/circles/{slug}/search", response=errors_for({200: SearchPageOut}))
def search_circle(
    request: HttpRequest,
    slug: str,
    q: str = Query(..., description="Words to find (all of them, as substrings; 1–200 characters)."),
    kind: str | None = Query(None, description="Comma-separated kinds: message, post, comment, file, snapshot."),
    cursor: Cursor | None = None,
    limit: int = Query(selectors.PAGE_SIZE, ge=1, le=selectors.MAX_PAGE_SIZE),
):
    """What you may see in a circle that contains every word of `q` (case-insensitive, CJK-aware), newest first.

    An empty or over-long query answers 400 (`empty_query`, `query_too_long`).
    """
    user = current_user(request)
    circle, membership = member_circle(request, slug)
    page = selectors.search(user, circle, q, kinds=kind, cursor=cursor, limit=limit, membership=membership)
    items = [
        {
            "kind": hit.kind,
            "object_id": hit.object_id,
            "title": hit.title,
            "snippet_html": str(hit.snippet),
            "created_at": hit.created_at,
            "url": hit.url,
            "group_id": hit.group_id,
        }
        for hit in page.hits
    ]
    return {"query": page.query, "items": items, "next_cursor": page.next_cursor}
