"""Reading the search index: ``search(user, circle, query, kinds, cursor)``.

Hits come newest first (index row id, which is also the cursor). Candidates are narrowed in the
database (circle, the reader's chat groups, the text match) and then checked one batch at a time
against ``search.rules`` — the content's own permission rules — before they are shown.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q
from django.urls import NoReverseMatch, reverse
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from quanzi.circles import rules as circle_rules
from quanzi.circles.models import Circle, Membership
from quanzi.core.errors import InvalidInput, NotFound

from . import rules
from .backends import get_backend
from .models import SearchDocument
from .text import parse_query, snippet

PAGE_SIZE = 20
MAX_PAGE_SIZE = 50
# Candidates examined per request at most: a reader who may see few of many matching rows gets a
# short page and a cursor to go on with, never an unbounded scan.
MAX_EXAMINED = 500


@dataclass
class SearchHit:
    kind: str
    object_id: int
    title: str
    snippet: SafeString
    created_at: datetime
    url: str | None
    group_id: int | None


@dataclass
class SearchPage:
    query: str
    terms: list[str]
    hits: list[SearchHit]
    next_cursor: int | None


def parse_kinds(kinds: object) -> list[str] | None:
    """Kinds as given by a form or the API ("message,post" or a list); None means all."""
    if kinds in (None, "", []):
        return None
    if isinstance(kinds, str):
        kinds = [k for k in kinds.split(",") if k.strip()]
    if not isinstance(kinds, list | tuple) or not all(isinstance(k, str) for k in kinds):
        raise InvalidInput(_("Unknown kind of content."), code="invalid_kind")
    cleaned = [k.strip() for k in kinds]
    unknown = [k for k in cleaned if k not in rules.KINDS]
    if unknown:
        raise InvalidInput(
            _("Unknown kind of content: %(kinds)s.") % {"kinds": ", ".join(unknown)[:100]}, code="invalid_kind"
        )
    return sorted(set(cleaned)) or None


def _url(circle: Circle, kind: str, object_id: int, group_id: int | None, extra: dict) -> str | None:
    try:
        if kind == "message" and group_id:
            return reverse("room", args=[circle.slug, group_id]) + f"#message-{object_id}"
        if kind == "post":
            return reverse("feed_post", args=[circle.slug, object_id])
        if kind == "comment" and object_id in extra:
            return reverse("feed_post", args=[circle.slug, extra[object_id]]) + f"#comment-{object_id}"
        if kind == "file" and object_id in extra:
            return reverse("archive_file_download", args=[extra[object_id]])
        if kind == "snapshot":
            return reverse("archive_snapshot", args=[circle.slug, object_id])
    except NoReverseMatch:
        return None
    return None


def _url_extras(kind: str, ids: list[int]) -> dict[int, object]:
    """What some URLs need beyond the id: a comment's post, a file's public id."""
    if kind == "comment":
        from quanzi.feed.models import Comment

        return dict(Comment.objects.filter(id__in=ids).values_list("id", "post_id"))
    if kind == "file":
        from quanzi.archive.models import CircleFile

        return dict(CircleFile.objects.filter(id__in=ids).values_list("id", "public_id"))
    return {}


def search(
    user,
    circle: Circle,
    query: object,
    *,
    kinds: object = None,
    cursor: int | None = None,
    limit: int = PAGE_SIZE,
    membership: Membership | None = None,
) -> SearchPage:
    """One page of what ``user`` may see in ``circle`` matching every term of ``query``."""
    if membership is None and user is not None and getattr(user, "is_authenticated", False):
        membership = Membership.objects.filter(circle=circle, user=user).first()
    if not circle_rules.is_active(membership):
        raise NotFound(_("No such circle."), code="circle_not_found")
    terms = parse_query(query)
    kind_list = parse_kinds(kinds)
    if cursor is not None and (not isinstance(cursor, int) or isinstance(cursor, bool) or cursor < 0):
        raise InvalidInput(_("Invalid cursor."), code="invalid_cursor")
    limit = max(1, min(int(limit), MAX_PAGE_SIZE))

    from quanzi.chat.models import GroupMember

    seats = GroupMember.objects.filter(user_id=user.id, group__circle_id=circle.id).values("group_id")
    qs = SearchDocument.objects.filter(circle_id=circle.id).filter(Q(group__isnull=True) | Q(group_id__in=seats))
    if kind_list:
        qs = qs.filter(kind__in=kind_list)
    qs = get_backend().filter_matches(qs, terms).order_by("-id")

    hits: list[SearchHit] = []
    examined = 0
    next_cursor: int | None = None
    position = cursor
    batch_size = max(limit * 2, 20)
    while len(hits) < limit and examined < MAX_EXAMINED:
        page_qs = qs.filter(id__lt=position) if position is not None else qs
        batch = list(page_qs.only("id", "kind", "object_id", "group_id", "title", "text", "created_at")[:batch_size])
        if not batch:
            next_cursor = None
            break
        examined += len(batch)
        by_kind: dict[str, list[int]] = defaultdict(list)
        for doc in batch:
            by_kind[doc.kind].append(doc.object_id)
        allowed = {kind: rules.visible_ids(user, membership, circle, kind, ids) for kind, ids in by_kind.items()}
        extras = {kind: _url_extras(kind, sorted(allowed[kind])) for kind in allowed if allowed[kind]}
        stopped_early = False
        for doc in batch:
            position = doc.id
            if doc.object_id not in allowed.get(doc.kind, ()):
                continue
            hits.append(
                SearchHit(
                    kind=doc.kind,
                    object_id=doc.object_id,
                    title=doc.title,
                    snippet=snippet(doc.text or doc.title, terms),
                    created_at=doc.created_at,
                    url=_url(circle, doc.kind, doc.object_id, doc.group_id, extras.get(doc.kind, {})),
                    group_id=doc.group_id,
                )
            )
            if len(hits) >= limit:
                stopped_early = True
                break
        next_cursor = position
        if not stopped_early and len(batch) < batch_size:
            next_cursor = None  # nothing older matches
            break
    return SearchPage(query=str(query), terms=terms, hits=hits, next_cursor=next_cursor)


def link_cards(user, circle: Circle, membership: Membership | None, kind: object, ids: object) -> dict[int, list]:
    """Archived links cited by some content the user may see: ``{object_id: [LinkSnapshot, …]}``.

    ``ids`` is a comma-separated string (or a list) of at most 100 ids of ``kind`` content.
    """
    from quanzi.archive.snapshots import snapshots_for

    if kind not in ("message", "post", "comment"):
        raise InvalidInput(_("Unknown kind of content."), code="invalid_kind")
    parts = [p.strip() for p in ids.split(",")] if isinstance(ids, str) else [str(p) for p in (ids or [])]
    parts = [p for p in parts if p]
    if not parts or len(parts) > 100 or not all(p.isascii() and p.isdigit() and len(p) <= 18 for p in parts):
        raise InvalidInput(_("Give 1 to 100 comma-separated ids."), code="invalid_ids")
    visible = rules.visible_ids(user, membership, circle, str(kind), [int(p) for p in parts])
    return snapshots_for(str(kind), sorted(visible))
