"""REST operations of the search app: full-text search within a circle, and archived links (link cards)."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from quanzi.search import selectors

from .auth import current_user
from .circles import member_circle
from .schemas import Cursor, Id, errors_for

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


# --- archived links (link snapshots, quanzi.archive.snapshots) ---------------------------------


class LinkCardOut(Schema):
    id: int
    url: str = Field(description="The link as cited (normalised).")
    final_url: str = Field(description="Where redirects ended.")
    status: str = Field(description="pending, ok or failed")
    failure_reason: str
    title: str
    description: str
    site_name: str
    fetched_at: datetime | None = Field(None, description="When the copy was made (\"archived on\").")
    page_url: str = Field(description="Our archived copy (web page).")
    image_urls: list[str] = Field(description="Stored images, main image first.")


class LinkOut(LinkCardOut):
    text: str = Field(description="The page's main text as archived.")


class LinkCitationOut(Schema):
    object_id: int
    links: list[LinkCardOut]


class LinkCitationsOut(Schema):
    items: list[LinkCitationOut]


def _link_card(snapshot, *, with_text: bool = False) -> dict:
    from django.urls import reverse

    slug = snapshot.circle.slug
    positions = [image.position for image in snapshot.images.all()] if snapshot.status == "ok" else []
    data = {
        "id": snapshot.id,
        "url": snapshot.url,
        "final_url": snapshot.final_url,
        "status": snapshot.status,
        "failure_reason": snapshot.failure_reason,
        "title": snapshot.title,
        "description": snapshot.description,
        "site_name": snapshot.site_name,
        "fetched_at": snapshot.fetched_at,
        "page_url": reverse("archive_snapshot", args=[slug, snapshot.id]),
        "image_urls": [reverse("archive_snapshot_image", args=[slug, snapshot.id, p]) for p in positions],
    }
    if with_text:
        data["text"] = snapshot.text
    return data


@router.get("/circles/{slug}/links/{snapshot_id}", response=errors_for({200: LinkOut}))
def get_link(request: HttpRequest, slug: str, snapshot_id: Id):
    """An archived link: visible to members who may see some content that cited it."""
    from quanzi.archive.snapshots import access_snapshot

    circle, membership = member_circle(request, slug)
    return _link_card(access_snapshot(current_user(request), membership, circle, snapshot_id), with_text=True)


@router.get("/circles/{slug}/links", response=errors_for({200: LinkCitationsOut}))
def list_link_cards(
    request: HttpRequest,
    slug: str,
    kind: str = Query(..., description="message, post or comment"),
    ids: str = Query(..., description="Comma-separated ids of that content (at most 100)."),
):
    """Link cards (archived copies) of content you may see, e.g. the messages of a chat page."""
    circle, membership = member_circle(request, slug)
    cited = selectors.link_cards(current_user(request), circle, membership, kind, ids)
    return {"items": [{"object_id": oid, "links": [_link_card(s) for s in cited[oid]]} for oid in sorted(cited)]}
