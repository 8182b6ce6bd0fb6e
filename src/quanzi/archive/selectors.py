"""Reads of circle files and exports, already filtered by what the viewer may see."""

from __future__ import annotations

from django.db.models import QuerySet

from quanzi.circles.models import Circle

from .access import visible_files
from .models import CircleExport, CircleFile

SCAN_BATCH = 200


def live_files(circle: Circle) -> QuerySet[CircleFile]:
    return (
        CircleFile.objects.filter(circle=circle, deleted_at__isnull=True)
        .select_related("blob", "thumbnail", "uploader")
        .order_by("-id")
    )


def list_files(
    user, circle: Circle, *, query: str = "", kind: str = "", before_id: int | None = None, limit: int = 50
) -> tuple[list[CircleFile], int | None]:
    """One page of the circle's files the user may see, newest first, and the cursor of the next page.

    Visibility of attached files is decided by their owners' registered checks (in Python), so
    the rows are scanned in batches until the page is full; the cursor is the last id returned.
    The caller has already checked that the user is an active member.
    """
    qs = live_files(circle)
    query = (query or "").strip()[:100]
    if query:
        qs = qs.filter(name__icontains=query)
    if kind:
        qs = qs.filter(kind=kind)
    page: list[CircleFile] = []
    cursor = before_id
    while len(page) < limit:
        batch_qs = qs.filter(id__lt=cursor) if cursor else qs
        batch = list(batch_qs[:SCAN_BATCH])
        if not batch:
            return page, None
        for f in visible_files(user, batch):
            page.append(f)
            if len(page) == limit:
                break
        cursor = batch[-1].id
        if len(batch) < SCAN_BATCH and len(page) < limit:
            return page, None
    more = qs.filter(id__lt=page[-1].id).exists()
    return page, (page[-1].id if more else None)


def export_of(circle: Circle, public_id: str) -> CircleExport | None:
    """One export of the circle by its public id (None for unknown or over-long ids)."""
    if len(public_id) > 32:
        return None
    return CircleExport.objects.filter(circle=circle, public_id=public_id).first()


def recent_exports(circle: Circle, limit: int = 10) -> list[CircleExport]:
    return list(CircleExport.objects.filter(circle=circle).select_related("requested_by")[:limit])
