"""REST operations of the archive app: circle files (upload, list, metadata, download, delete).

Downloads check the caller's access on every request, like the web view (same module), and
answer 404 for missing, deleted, other people's circles and attachments the caller can't see.
"""

from __future__ import annotations

from typing import Literal

from django.http import HttpRequest
from ninja import File, Form, Query, Router, Schema, Status
from ninja.files import UploadedFile
from pydantic import Field

from quanzi.archive import actions, selectors
from quanzi.archive.access import access_file
from quanzi.archive.files_serving import serve_blob
from quanzi.archive.models import CircleFile
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
