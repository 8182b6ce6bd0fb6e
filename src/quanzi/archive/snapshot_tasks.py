"""Background work and signal listeners of link snapshots (see ``snapshots.py``).

The listeners run after the content's transaction commits: they only scan the text for URLs and
enqueue a task; all database work and every fetch happens in the tasks (django.tasks).
"""

from __future__ import annotations

import logging

from django.dispatch import receiver
from django.tasks import task

from quanzi.core.content import content_removed, content_saved

from . import snapshots

logger = logging.getLogger(__name__)

# Content whose links are archived (snapshots themselves and files carry no links to follow).
CITING_KINDS = frozenset({"message", "post", "comment", "checkin"})


@task()
def cite_links(*, kind: str, object_id: int, circle_id: int, urls: list[str]) -> list[int]:
    """Record which snapshots the content cites, then fetch the new ones (one task each)."""
    new_ids = snapshots.cite(kind=kind, object_id=object_id, circle_id=circle_id, urls=urls)
    for snapshot_id in new_ids:
        fetch_link.enqueue(snapshot_id=snapshot_id)
    return new_ids


@task()
def fetch_link(*, snapshot_id: int) -> str:
    return str(snapshots.fetch_snapshot(snapshot_id))


@receiver(content_saved, dispatch_uid="archive_snapshot_links")
def snapshot_links_of_saved_content(sender, *, kind: str, object_id: int, circle_id: int, text: str = "",
                                    created: bool = True, **kwargs) -> None:
    if kind not in CITING_KINDS:
        return
    try:
        snapshots.request_snapshots(kind=kind, object_id=object_id, circle_id=circle_id, text=text,
                                    created=created)
    except Exception:  # the content is saved already; a lost snapshot must not turn into an error page
        logger.exception("snapshots: could not enqueue the links of %s %s", kind, object_id)


@receiver(content_removed, dispatch_uid="archive_snapshot_uncite")
def uncite_removed_content(sender, *, kind: str, object_id: int, **kwargs) -> None:
    if kind not in CITING_KINDS:
        return
    try:
        snapshots.uncite(kind=kind, object_id=object_id)
    except Exception:
        logger.exception("snapshots: could not drop the citations of %s %s", kind, object_id)
