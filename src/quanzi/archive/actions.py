"""The only writers of circle files (uploads, deletions, attachments) and export requests.

Stable API for other apps (docs/storage.md)::

    do_upload_file(*, actor, circle, upload, kind_hint=None) -> CircleFile
    do_delete_file(*, actor, circle_file) -> CircleFile          # circle_file: CircleFile or public id
    do_attach_files(*, actor, circle, public_ids, kind, object_id) -> list[CircleFile]

An upload is read once with a byte limit (the circle's ``upload_limit_mb``, capped by
``settings.QUANZI_UPLOAD_MAX_MB``), recognised from its content, refused unless on the
allow-list, images re-encoded without metadata, then stored content-addressed. Every
refusal is an ``InvalidInput``/``Forbidden`` with a stable code and nothing is stored.
"""

from __future__ import annotations

import io
import re
import unicodedata
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from quanzi.circles.models import Circle, Membership
from quanzi.core import audit
from quanzi.core.content import content_removed, content_saved
from quanzi.core.errors import Conflict, Forbidden, InvalidInput, NotFound

from . import rules
from .files_images import clean_image
from .files_types import IMAGE_TYPES, FileType, detect
from .models import CircleExport, CircleFile, ExportStatus, FileKind
from .storage import spool, store_blob

MAX_NAME_LENGTH = 200
_UNSAFE_NAME_CHARS = re.compile(r'[\x00-\x1f\x7f<>:"|?*]')
READ_CHUNK = 64 * 1024
STALE_EXPORT = timedelta(hours=6)


def sanitize_name(raw: object) -> str:
    """A display/download name without any path, control or reserved characters, NFC, at most 200 chars.

    ``../../etc/passwd`` becomes ``passwd``, ``C:\\x\\a.pdf`` becomes ``a.pdf``; the extension is kept
    when the name has to be shortened. Names are only shown and sent in Content-Disposition,
    never used as storage paths (those come from the SHA-256).
    """
    name = unicodedata.normalize("NFC", str(raw or ""))
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE_NAME_CHARS.sub("", name)
    name = "".join(ch for ch in name if unicodedata.category(ch) not in {"Cc", "Cf", "Zl", "Zp"} or ch == " ")
    name = name.strip().strip(".").strip()
    if not name:
        return "file"
    if len(name) > MAX_NAME_LENGTH:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 16:
            name = stem[: MAX_NAME_LENGTH - len(ext) - 1].rstrip() + "." + ext
        else:
            name = name[:MAX_NAME_LENGTH]
    return name


def upload_limit_bytes(circle: Circle) -> int:
    """The circle's limit, never above the instance-wide cap."""
    megabytes = min(int(circle.upload_limit_mb or 0), int(settings.QUANZI_UPLOAD_MAX_MB))
    return max(megabytes, 0) * 1024 * 1024


def _too_large(limit: int) -> InvalidInput:
    return InvalidInput(
        _("The file is larger than this circle's limit of %(mb)s MB.") % {"mb": limit // (1024 * 1024)},
        code="file_too_large",
    )


def _chunks(upload: Any):
    if hasattr(upload, "seek"):
        try:
            upload.seek(0)
        except (OSError, ValueError):
            pass
    if hasattr(upload, "chunks"):
        yield from upload.chunks(READ_CHUNK)
    else:
        while chunk := upload.read(READ_CHUNK):
            yield chunk


def _active_membership(circle: Circle, actor, *, lock: bool = False) -> Membership | None:
    if actor is None or not getattr(actor, "is_authenticated", False):
        return None
    qs = Membership.objects.filter(circle=circle, user=actor)
    return (qs.select_for_update() if lock else qs).first()


def _kind_for(found: FileType, kind_hint: str | None) -> str:
    if kind_hint not in (None, "", *FileKind.values):
        raise InvalidInput(_("Unknown kind of file."), code="invalid_kind")
    if kind_hint == FileKind.IMAGE and found.kind != FileKind.IMAGE:
        raise InvalidInput(_("Use a JPEG, PNG, GIF or WebP image."), code="invalid_image")
    if kind_hint == FileKind.VOICE and found.kind != FileKind.VOICE:
        raise InvalidInput(_("Use an audio file (Ogg/Opus, MP3, M4A/AAC, WAV or WebM)."), code="invalid_audio")
    return found.kind


def do_upload_file(*, actor, circle: Circle, upload: Any, kind_hint: str | None = None) -> CircleFile:
    """Store an uploaded file in the circle and return its ``CircleFile`` (not attached to anything).

    ``upload`` is a Django ``UploadedFile`` or any binary file object with a ``name``.
    ``kind_hint`` "image" or "voice" insists on that kind; None/"file" takes whatever allowed
    type the content is. Raises ``Forbidden`` (not_member, muted, membership_expired) or
    ``InvalidInput`` (file_empty, file_too_large, file_type_not_allowed, file_type_mismatch,
    invalid_image, image_too_large, invalid_audio, invalid_kind).
    """
    rules.check_upload(_active_membership(circle, actor))
    if upload is None:
        raise InvalidInput(_("Choose a file to upload."), code="file_missing")
    name = sanitize_name(getattr(upload, "name", "") or "")
    limit = upload_limit_bytes(circle)
    declared = getattr(upload, "size", None)
    if isinstance(declared, int) and declared > limit:
        raise _too_large(limit)
    spooled = spool(_chunks(upload), limit=limit)
    if spooled is None:
        raise _too_large(limit)
    data, size = spooled
    try:
        if size == 0:
            raise InvalidInput(_("The file is empty."), code="file_empty")
        found = detect(data, name)
        kind = _kind_for(found, kind_hint)
        thumbnail = None
        if found.content_type in IMAGE_TYPES:
            image = clean_image(data, IMAGE_TYPES[found.content_type])
            blob = store_blob(io.BytesIO(image.data), content_type=image.content_type,
                              width=image.width, height=image.height)
            thumbnail = store_blob(io.BytesIO(image.thumbnail), content_type=image.thumbnail_type)
        else:
            blob = store_blob(data, content_type=found.content_type)
    finally:
        data.close()
    with transaction.atomic():
        # Checked again under a lock: a ban or mute while the upload was read still applies.
        rules.check_upload(_active_membership(circle, actor, lock=True))
        circle_file = CircleFile.objects.create(
            circle=circle, uploader=actor, blob=blob, thumbnail=thumbnail, name=name, kind=kind
        )
        file_id, circle_id = circle_file.id, circle.id
        transaction.on_commit(lambda: content_saved.send(
            sender=CircleFile, kind="file", object_id=file_id, circle_id=circle_id, text=name, created=True))
    return circle_file


def _resolve(circle_file: CircleFile | str, *, lock: bool = False) -> CircleFile:
    qs = CircleFile.objects.select_related("circle")
    if lock:
        qs = qs.select_for_update(of=("self",))
    if isinstance(circle_file, CircleFile):
        found = qs.filter(id=circle_file.id).first()
    elif isinstance(circle_file, str) and 0 < len(circle_file) <= 32:
        found = qs.filter(public_id=circle_file).first()
    else:
        found = None
    if found is None or found.deleted_at is not None:
        raise NotFound(_("No such file."), code="file_not_found")
    return found


def do_delete_file(*, actor, circle_file: CircleFile | str) -> CircleFile:
    """Delete a file (the uploader or an admin); others get the same 404 as for a missing file
    when they are not members, and 403 (``not_uploader``) when they are.

    The row is kept with ``deleted_at`` (the audit trail and exports refer to it); it is no longer
    listed or served. Deleting someone else's file is recorded in the audit log.
    """
    with transaction.atomic():
        found = _resolve(circle_file, lock=True)
        membership = _active_membership(found.circle, actor)
        if membership is None or not membership.is_active:
            raise NotFound(_("No such file."), code="file_not_found")
        rules.check_delete_file(membership, found)
        found.deleted_at = timezone.now()
        found.save(update_fields=["deleted_at"])
        if found.uploader_id != actor.id:
            audit.record(circle=found.circle, actor=actor, action="file.deleted", target_user=found.uploader,
                         target_repr=found.name, data={"file": found.public_id})
        file_id, circle_id = found.id, found.circle_id
        transaction.on_commit(lambda: content_removed.send(
            sender=CircleFile, kind="file", object_id=file_id, circle_id=circle_id))
    return found


ATTACH_KIND = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


def do_attach_files(*, actor, circle: Circle, public_ids: list[str], kind: str, object_id: int) -> list[CircleFile]:
    """Let a piece of content (``kind`` + ``object_id``) claim files its author uploaded to this circle.

    Call inside the transaction that creates the content. Each file must be live, in this circle,
    uploaded by ``actor`` and not yet attached; otherwise ``InvalidInput`` (code ``invalid_attachment``)
    and nothing is attached. Once attached, the file is visible only to who can see that content.
    """
    if not ATTACH_KIND.match(kind or "") or not isinstance(object_id, int) or object_id <= 0:
        raise InvalidInput(_("Invalid attachment."), code="invalid_attachment")
    wanted = list(dict.fromkeys(p for p in public_ids if isinstance(p, str)))
    if len(wanted) != len(public_ids) or not wanted:
        raise InvalidInput(_("Invalid attachment."), code="invalid_attachment")
    with transaction.atomic():
        files = list(CircleFile.objects.select_for_update().filter(public_id__in=wanted))
        for f in files:
            if (f.circle_id != circle.id or f.uploader_id != actor.id or f.deleted_at is not None
                    or f.attached_kind):
                files = []
                break
        if len(files) != len(wanted):
            raise InvalidInput(_("A file to attach is missing, already used, or not yours."),
                               code="invalid_attachment")
        CircleFile.objects.filter(id__in=[f.id for f in files]).update(attached_kind=kind, attached_id=object_id)
        for f in files:
            f.attached_kind, f.attached_id = kind, object_id
    order = {p: i for i, p in enumerate(wanted)}
    return sorted(files, key=lambda f: order[f.public_id])


# --- exports ------------------------------------------------------------------------------------


def do_request_export(*, actor, circle: Circle) -> CircleExport:
    """Start a background export of the whole circle (owner only; one running at a time)."""
    from .export_tasks import run_circle_export

    with transaction.atomic():
        membership = _active_membership(circle, actor, lock=True)
        try:
            rules.check_export(membership)
        except Forbidden:
            if membership is None or not membership.is_active:
                raise NotFound(_("No such circle."), code="circle_not_found") from None
            raise
        if CircleExport.objects.filter(  # a worker that died hours ago does not block a new export forever
            circle=circle, status__in=[ExportStatus.QUEUED, ExportStatus.RUNNING],
            created_at__gte=timezone.now() - STALE_EXPORT,
        ).exists():
            raise Conflict(_("An export of this circle is already running."), code="export_running")
        export = CircleExport.objects.create(circle=circle, requested_by=actor)
        audit.record(circle=circle, actor=actor, action="circle.exported", target_repr=export.public_id)
        export_id = export.id
        transaction.on_commit(lambda: run_circle_export.enqueue(export_id=export_id))
    return export
