"""REST operations of the archive app: circle files (upload, list, metadata, download, delete) and exports.

Downloads check the caller's access on every request, like the web view (same module), and
answer 404 for missing, deleted, other people's circles and attachments the caller can't see.
"""

from __future__ import annotations

from typing import Literal

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import File, Form, Query, Router, Schema, Status
from ninja.files import UploadedFile
from pydantic import Field

from quanzi.archive import actions, selectors
from quanzi.archive import rules as archive_rules
from quanzi.archive.access import access_file
from quanzi.archive.files_serving import export_zip_response, serve_blob
from quanzi.archive.models import CircleExport, CircleFile, ExportStatus
from quanzi.circles.access import access_circle
from quanzi.core.errors import NotFound

from .auth import current_user
from .schemas import OkOut, UserBrief, errors_for

router = Router(tags=["archive"])

KindName = Literal["image", "file", "voice"]


class FileOut(Schema):
    id: str = Field(description="the file's public id (unguessable)")
    name: str
    kind: KindName
    content_type: str
    size: int
    sha256: str
    width: int | None = None
    height: int | None = None
    uploader: UserBrief | None = None
    created_at: str
    attached_kind: str = ""
    attached_id: int | None = None
    download_url: str
    thumbnail_url: str | None = None


class FilePage(Schema):
    items: list[FileOut]
    next_before: int | None = Field(None, description="pass as `before` for the next page")


class FileListParams(Schema):
    q: str = Field("", max_length=100, description="part of the file name")
    kind: KindName | None = None
    before: int | None = Field(None, ge=1, le=2**63 - 1)
    limit: int = Field(50, ge=1, le=100)


def file_out(f: CircleFile) -> dict:
    uploader = f.uploader
    return {
        "id": f.public_id,
        "name": f.name,
        "kind": f.kind,
        "content_type": f.blob.content_type,
        "size": f.blob.size,
        "sha256": f.blob.sha256,
        "width": f.blob.width,
        "height": f.blob.height,
        "uploader": {"id": uploader.id, "username": uploader.username, "name": uploader.name} if uploader else None,
        "created_at": f.created_at.isoformat(),
        "attached_kind": f.attached_kind,
        "attached_id": f.attached_id,
        "download_url": f"/api/files/{f.public_id}/download",
        "thumbnail_url": f"/api/files/{f.public_id}/thumbnail" if f.thumbnail_id else None,
    }


@router.post("/circles/{slug}/files", response=errors_for({201: FileOut}))
def upload_file(request: HttpRequest, slug: str, file: File[UploadedFile], kind: Form[KindName | None] = None):
    """Upload a file into the circle (active members not muted; multipart field `file`, optional form field
    `kind` = image/voice to insist on that kind). The type comes from the content. Errors: `file_empty`,
    `file_too_large`, `file_type_not_allowed`, `file_type_mismatch`, `invalid_image`, `image_too_large`,
    `invalid_audio`, `muted`, `membership_expired`."""
    user = current_user(request)
    circle, _membership = access_circle(slug, user, require_member=True)
    created = actions.do_upload_file(actor=user, circle=circle, upload=file, kind_hint=kind)
    return Status(201, file_out(CircleFile.objects.select_related("blob", "thumbnail", "uploader").get(id=created.id)))


@router.get("/circles/{slug}/files", response=errors_for({200: FilePage}))
def list_files(request: HttpRequest, slug: str, params: Query[FileListParams]):
    """The circle's files the caller may see, newest first (id cursor: `before`)."""
    user = current_user(request)
    circle, _membership = access_circle(slug, user, require_member=True)
    files, next_before = selectors.list_files(user, circle, query=params.q, kind=params.kind or "",
                                              before_id=params.before, limit=params.limit)
    return {"items": [file_out(f) for f in files], "next_before": next_before}


@router.get("/files/{public_id}", response=errors_for({200: FileOut}))
def get_file(request: HttpRequest, public_id: str):
    circle_file, _membership = access_file(public_id, current_user(request))
    return file_out(circle_file)


@router.get("/files/{public_id}/download", response=errors_for({200: None}),
            openapi_extra={"responses": {"200": {"description": "the file's bytes"}}})
def download_file(request: HttpRequest, public_id: str):
    """The file's bytes (Content-Type from the content, attachment unless an image, ETag = SHA-256, Range)."""
    circle_file, _membership = access_file(public_id, current_user(request))
    return serve_blob(request, circle_file.blob, filename=circle_file.name)


@router.get("/files/{public_id}/thumbnail", response=errors_for({200: None}),
            openapi_extra={"responses": {"200": {"description": "a JPEG or PNG of at most 320 pixels a side"}}})
def file_thumbnail(request: HttpRequest, public_id: str):
    circle_file, _membership = access_file(public_id, current_user(request))
    if circle_file.thumbnail is None:
        raise NotFound("This file has no thumbnail.", code="file_not_found")
    return serve_blob(request, circle_file.thumbnail, filename="thumbnail")


@router.delete("/files/{public_id}", response=errors_for({200: OkOut}))
def delete_file(request: HttpRequest, public_id: str):
    """Delete a file (its uploader or an admin). Errors: `not_uploader` (403)."""
    user = current_user(request)
    access_file(public_id, user)
    actions.do_delete_file(actor=user, circle_file=public_id)
    return {"ok": True}


# --- exports (own your data) ----------------------------------------------------------------


class ExportOut(Schema):
    id: str = Field(description="the export's public id (unguessable)")
    status: Literal["queued", "running", "done", "failed"]
    progress: int = Field(description="percent done")
    step: str = Field(description="what the worker is doing now")
    size: int = Field(description="bytes of the finished zip (0 until done)")
    error: str = ""
    created_at: str
    finished_at: str | None = None
    download_url: str | None = Field(None, description="set when the export is done")


class ExportList(Schema):
    items: list[ExportOut]


def export_out(export: CircleExport, slug: str) -> dict:
    done = export.status == ExportStatus.DONE and bool(export.storage_key)
    return {
        "id": export.public_id,
        "status": export.status,
        "progress": export.progress,
        "step": export.step,
        "size": export.size,
        "error": export.error,
        "created_at": export.created_at.isoformat(),
        "finished_at": export.finished_at.isoformat() if export.finished_at else None,
        "download_url": f"/api/circles/{slug}/exports/{export.public_id}/download" if done else None,
    }


def _owner_circle(request: HttpRequest, slug: str):
    """The circle, for its owner: others who are members get 403 ``owner_only``; non-members the usual 404."""
    circle, membership = access_circle(slug, current_user(request), require_member=True)
    archive_rules.check_export(membership)
    return circle


def _export(circle, export_id: str) -> CircleExport:
    export = selectors.export_of(circle, export_id)
    if export is None:
        raise NotFound(_("No such export."), code="export_not_found")
    return export


@router.post("/circles/{slug}/exports", response=errors_for({201: ExportOut}))
def start_export(request: HttpRequest, slug: str):
    """Start exporting the whole circle as a zip of JSON plus files (the owner only; a background task).
    Poll the export for `progress`; when `status` is `done`, fetch `download_url`. Errors: `owner_only` (403),
    `export_running` (409: one export at a time)."""
    circle = _owner_circle(request, slug)
    export = actions.do_request_export(actor=current_user(request), circle=circle)
    export.refresh_from_db()  # a test or embedded worker may have run it already
    return Status(201, export_out(export, circle.slug))


@router.get("/circles/{slug}/exports", response=errors_for({200: ExportList}))
def list_exports(request: HttpRequest, slug: str):
    """The circle's ten most recent exports, newest first (the owner only)."""
    circle = _owner_circle(request, slug)
    return {"items": [export_out(e, circle.slug) for e in selectors.recent_exports(circle)]}


@router.get("/circles/{slug}/exports/{export_id}", response=errors_for({200: ExportOut}))
def get_export(request: HttpRequest, slug: str, export_id: str):
    """One export's status and progress (the owner only)."""
    circle = _owner_circle(request, slug)
    return export_out(_export(circle, export_id), circle.slug)


@router.get("/circles/{slug}/exports/{export_id}/download", response=errors_for({200: None}),
            openapi_extra={"responses": {"200": {"description": "the export zip"}}})
def download_export(request: HttpRequest, slug: str, export_id: str):
    """The finished zip (the owner only); 404 `export_not_found` until it is done."""
    circle = _owner_circle(request, slug)
    response = export_zip_response(_export(circle, export_id), circle.slug)
    if response is None:
        raise NotFound(_("This export is not ready yet."), code="export_not_found")
    return response
