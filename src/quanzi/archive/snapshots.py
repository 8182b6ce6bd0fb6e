"""Link snapshots: archive the pages people link to, so the link keeps working after the page is gone.

Flow: content is saved → ``content_saved`` → :func:`request_snapshots` finds the URLs (cheap regex,
no database access when there are none) and enqueues :func:`snapshot_tasks.cite_links` → that task
records one ``LinkSnapshot`` per normalised URL per circle (deduplicated) and a citation for the
content, and enqueues one fetch per new snapshot → :func:`fetch_snapshot` fetches the page through
the SSRF-safe :mod:`fetcher`, extracts title, description, site name and main text with trafilatura,
copies the main images (og:image first, then a few from the main content) into the archive's blob
storage, and marks the snapshot ok or failed with the reason. Pages are never fetched while a
request is being answered.

Who may see a snapshot: an active circle member who may see some content that cites it
(``quanzi.search.rules``), exactly like a search hit.
"""

from __future__ import annotations

import io
import logging
import re
from hashlib import sha256
from urllib.parse import urljoin, urlsplit, urlunsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from quanzi.core.text import url_spans

from . import fetcher
from .models import LinkSnapshot, SnapshotCitation, SnapshotImage, SnapshotStatus

logger = logging.getLogger(__name__)

MAX_URLS_PER_CONTENT = 5
MAX_TEXT_CHARS = 100_000
_MARKDOWN_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
IMAGE_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp"}


def enabled() -> bool:
    """Snapshots are on unless switched off; tests switch them on only with their local server."""
    return bool(getattr(settings, "QUANZI_SNAPSHOTS_ENABLED", not settings.TESTING))


def max_images() -> int:
    return int(getattr(settings, "QUANZI_SNAPSHOT_MAX_IMAGES", 4))


def normalize_url(url: str) -> str | None:
    """The canonical form used for deduplication, or None for a link we never fetch.

    Lower-case scheme and host (IDNA), no default port, no fragment, "/" for an empty path;
    links with a user name or password are dropped here so credentials are never stored.
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return None
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        return None
    try:
        host = parts.hostname.rstrip(".").encode("idna").decode("ascii").lower()
    except UnicodeError:
        return None
    if not host:
        return None
    if ":" in host:
        host = f"[{host}]"
    if port is not None and port != (443 if scheme == "https" else 80):
        host = f"{host}:{port}"
    normalized = urlunsplit((scheme, host, parts.path or "/", parts.query, ""))
    return normalized if len(normalized) <= fetcher.MAX_URL_LENGTH else None


def extract_urls(text: str) -> list[str]:
    """Distinct normalised http(s) URLs in a text, in order, at most ``MAX_URLS_PER_CONTENT``."""
    found: list[str] = []
    if not text or "://" not in text:
        return found
    for start, end in url_spans(text):
        url = normalize_url(text[start:end])
        if url and url not in found:
            found.append(url)
            if len(found) >= MAX_URLS_PER_CONTENT:
                break
    return found


def url_key(url: str) -> str:
    return sha256(url.encode("utf-8")).hexdigest()


def request_snapshots(*, kind: str, object_id: int, circle_id: int, text: str, created: bool = True) -> bool:
    """After content is saved: enqueue archiving its links. Returns whether a task was enqueued.

    Content without links costs one regex scan (and, for an edit, one query to drop old citations).
    """
    if not enabled() or not circle_id:
        return False
    urls = extract_urls(text or "")
    if not urls and (created or not SnapshotCitation.objects.filter(kind=kind, object_id=object_id).exists()):
        return False
    from .snapshot_tasks import cite_links

    cite_links.enqueue(kind=kind, object_id=int(object_id), circle_id=int(circle_id), urls=urls)
    return True


def _content_shown(kind: str, object_id: int) -> bool:
    """Whether the content is shown to others now: held (anti-ad gate), removed or deleted content's
    links are not fetched; a moderator's approval sends ``content_saved`` again."""
    from quanzi.chat.models import ModerationState

    if kind == "message":
        from quanzi.chat.models import Message as model
    elif kind == "post":
        from quanzi.feed.models import Post as model
    elif kind == "comment":
        from quanzi.feed.models import Comment as model
    else:
        return True
    return model.objects.filter(id=object_id, deleted_at__isnull=True,
                                moderation_state=ModerationState.VISIBLE).exists()


def cite(*, kind: str, object_id: int, circle_id: int, urls: list[str]) -> list[int]:
    """Record the content's citations (creating pending snapshots); returns ids of snapshots to fetch."""
    if not _content_shown(kind, object_id):
        uncite(kind=kind, object_id=object_id)
        return []
    to_fetch: list[int] = []
    keep: list[int] = []
    for url in urls[:MAX_URLS_PER_CONTENT]:
        normalized = normalize_url(url)
        if normalized is None:
            continue
        key = url_key(normalized)
        snapshot = LinkSnapshot.objects.filter(circle_id=circle_id, url_key=key).first()
        if snapshot is None:
            try:
                with transaction.atomic():
                    snapshot = LinkSnapshot.objects.create(circle_id=circle_id, url_key=key, url=normalized)
                to_fetch.append(snapshot.id)
            except IntegrityError:  # someone cited the same URL at the same moment
                snapshot = LinkSnapshot.objects.get(circle_id=circle_id, url_key=key)
        keep.append(snapshot.id)
        SnapshotCitation.objects.get_or_create(snapshot=snapshot, kind=kind, object_id=object_id)
    SnapshotCitation.objects.filter(kind=kind, object_id=object_id).exclude(snapshot_id__in=keep).delete()
    return to_fetch


def uncite(*, kind: str, object_id: int) -> int:
    """The content is gone: its citations go (the snapshot stays for whatever else cites it)."""
    deleted, _rows = SnapshotCitation.objects.filter(kind=kind, object_id=object_id).delete()
    return deleted


def _decode(result: fetcher.FetchResult) -> str:
    for encoding in (result.charset, "utf-8"):
        if not encoding:
            continue
        try:
            return result.body.decode(encoding)
        except (LookupError, UnicodeDecodeError):
            continue
    return result.body.decode("utf-8", errors="replace")


def extract_page(html: str, url: str) -> dict:
    """Title, description, site name, main text and candidate image URLs of a page."""
    import trafilatura

    doc = trafilatura.bare_extraction(html, url=url, with_metadata=True, include_images=True,
                                      include_comments=False, favor_precision=True)
    if doc is None:
        return {"title": "", "description": "", "site_name": "", "text": "", "images": []}
    images: list[str] = []
    if getattr(doc, "image", None):
        images.append(urljoin(url, doc.image))
    body = getattr(doc, "body", None)
    if body is not None:
        for graphic in body.iter("graphic"):
            src = graphic.get("src")
            if src:
                images.append(urljoin(url, src))
    text = _MARKDOWN_IMAGE.sub("", getattr(doc, "text", "") or "")
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    return {
        "title": (getattr(doc, "title", "") or "")[:500],
        "description": (getattr(doc, "description", "") or "")[:2000],
        "site_name": (getattr(doc, "sitename", "") or urlsplit(url).hostname or "")[:200],
        "text": text[:MAX_TEXT_CHARS],
        "images": list(dict.fromkeys(images)),
    }


def _store_image(url: str):
    """Fetch one image through the safe fetcher, check it is a real bitmap, store it; None on any failure."""
    from PIL import Image, UnidentifiedImageError

    from .storage import store_blob

    try:
        result = fetcher.fetch(url, expect="image")
    except fetcher.FetchError as exc:
        logger.info("snapshot image %s not stored: %s", url[:200], exc.code)
        return None
    try:
        with Image.open(io.BytesIO(result.body)) as image:
            image_format = image.format
            width, height = image.size
            image.verify()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None
    content_type = IMAGE_FORMATS.get(image_format or "")
    if content_type is None or width * height > 50_000_000:
        return None
    return store_blob(io.BytesIO(result.body), content_type=content_type, width=width, height=height)


def fetch_snapshot(snapshot_id: int) -> str:
    """Fetch, extract and store one pending snapshot; returns its final status."""
    updated = LinkSnapshot.objects.filter(id=snapshot_id, status=SnapshotStatus.PENDING).update(
        attempts=F("attempts") + 1
    )
    if not updated:
        return "skipped"
    snapshot = LinkSnapshot.objects.get(id=snapshot_id)
    try:
        page = fetcher.fetch(snapshot.url, expect="page")
        data = extract_page(_decode(page), page.final_url)
    except fetcher.FetchError as exc:
        LinkSnapshot.objects.filter(id=snapshot_id).update(
            status=SnapshotStatus.FAILED, failure_reason=f"{exc.code}: {exc.reason}"[:300], fetched_at=timezone.now()
        )
        return SnapshotStatus.FAILED
    except Exception as exc:  # extraction of hostile HTML must not leave the snapshot pending forever
        logger.exception("snapshot %s: extraction failed", snapshot_id)
        LinkSnapshot.objects.filter(id=snapshot_id).update(
            status=SnapshotStatus.FAILED, failure_reason=f"extract: {type(exc).__name__}"[:300],
            fetched_at=timezone.now(),
        )
        return SnapshotStatus.FAILED
    blobs = []
    for image_url in data["images"][: max_images() * 2]:
        if len(blobs) >= max_images():
            break
        blob = _store_image(image_url)
        if blob is not None and all(b.id != blob.id for b, _u in blobs):
            blobs.append((blob, image_url))
    with transaction.atomic():
        snapshot.status = SnapshotStatus.OK
        snapshot.failure_reason = ""
        snapshot.final_url = page.final_url
        snapshot.title = data["title"]
        snapshot.description = data["description"]
        snapshot.site_name = data["site_name"]
        snapshot.text = data["text"]
        snapshot.image = blobs[0][0] if blobs else None
        snapshot.fetched_at = timezone.now()
        snapshot.save()
        SnapshotImage.objects.filter(snapshot=snapshot).delete()
        SnapshotImage.objects.bulk_create(
            [SnapshotImage(snapshot=snapshot, blob=blob, position=n, source_url=src[:2000])
             for n, (blob, src) in enumerate(blobs)]
        )
        from quanzi.core.content import content_saved

        transaction.on_commit(lambda: content_saved.send(
            sender=LinkSnapshot, kind="snapshot", object_id=snapshot.id, circle_id=snapshot.circle_id,
            text=f"{snapshot.title}\n{snapshot.description}\n{snapshot.text}", created=True,
        ))
    return SnapshotStatus.OK




def snapshots_for(kind: str, ids) -> dict[int, list[LinkSnapshot]]:
    """Archived links of some content, for cards under posts, comments and messages.

    The caller shows content the viewer may already see; cards only carry what that content cites.
    Returns ``{object_id: [snapshot, …]}`` with archived (ok) snapshots in citation order.
    """
    ids = [int(i) for i in ids]
    if not ids:
        return {}
    result: dict[int, list[LinkSnapshot]] = {}
    citations = (
        SnapshotCitation.objects.filter(kind=kind, object_id__in=ids, snapshot__status=SnapshotStatus.OK)
        .select_related("snapshot", "snapshot__circle")
        .order_by("object_id", "id")
    )
    for citation in citations:
        result.setdefault(citation.object_id, []).append(citation.snapshot)
    return result


def can_view_snapshot(user, membership, snapshot: LinkSnapshot) -> bool:
    from quanzi.search import rules as search_rules

    return search_rules.can_view(user, membership, snapshot.circle, "snapshot", snapshot.id)


def access_snapshot(user, membership, circle, snapshot_id) -> LinkSnapshot:
    """A snapshot of this circle the user may see; anything else is the same 404 as a missing one."""
    from django.utils.translation import gettext as _

    from quanzi.core.errors import NotFound
    from quanzi.core.ids import as_db_id

    sid = as_db_id(snapshot_id)
    snapshot = LinkSnapshot.objects.select_related("circle").filter(id=sid, circle=circle).first() if sid else None
    if snapshot is None or not can_view_snapshot(user, membership, snapshot):
        raise NotFound(_("No such archived link."), code="link_not_found")
    return snapshot
