"""Sending a stored file to someone who was just allowed to see it.

Shared by the web view and the API. The response never lets a browser treat the bytes as a
page: the type is the one detected at upload, ``nosniff`` is set, the CSP is ``default-src
'none'; sandbox`` (no script, no same-origin even if something slipped through), everything but
images goes out as an attachment, and caches must revalidate (the permission check runs every
time; the ETag, the SHA-256, makes that revalidation cheap). One ``Range`` is honoured, so audio
can seek and big downloads resume.
"""

from __future__ import annotations

import re
from typing import IO

from django.http import FileResponse, HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils.http import content_disposition_header

from .files_types import IMAGE_TYPES
from .models import Blob, CircleExport, ExportStatus
from .storage import archive_storage, open_blob

RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
CHUNK = 64 * 1024
INLINE_TYPES = set(IMAGE_TYPES) | {"image/png", "image/jpeg"}


def _limited(fh: IO[bytes], start: int, length: int):
    try:
        fh.seek(start)
        remaining = length
        while remaining > 0:
            chunk = fh.read(min(CHUNK, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk
    finally:
        fh.close()


def _parse_range(header: str, size: int) -> tuple[int, int] | None | bool:
    """(start, end inclusive), None for no/ignored range, False for unsatisfiable."""
    match = RANGE.match(header.strip()) if header else None
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        length = int(last)
        if length == 0:
            return False
        return max(size - length, 0), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or end < start:
        return False
    return start, end


def _harden(response: HttpResponse, blob: Blob) -> HttpResponse:
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    response["Cache-Control"] = "private, no-cache"
    response["ETag"] = f'"{blob.sha256}"'
    response["Accept-Ranges"] = "bytes"
    return response


def serve_blob(request: HttpRequest, blob: Blob, *, filename: str) -> HttpResponse:
    etag = f'"{blob.sha256}"'
    if etag in [t.strip() for t in request.headers.get("If-None-Match", "").split(",")]:
        return _harden(HttpResponse(status=304), blob)
    inline = blob.content_type in INLINE_TYPES
    content_type = blob.content_type + ("; charset=utf-8" if blob.content_type.startswith("text/") else "")
    wanted = _parse_range(request.headers.get("Range", ""), blob.size)
    if request.headers.get("If-Range") not in (None, etag):
        wanted = None
    if wanted is False:
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{blob.size}"
        return _harden(response, blob)
    try:
        fh = open_blob(blob)
    except OSError:
        return HttpResponse(status=404)
    if wanted:
        start, end = wanted
        response = StreamingHttpResponse(_limited(fh, start, end - start + 1), status=206, content_type=content_type)
        response["Content-Range"] = f"bytes {start}-{end}/{blob.size}"
        response["Content-Length"] = str(end - start + 1)
        response["Content-Disposition"] = content_disposition_header(not inline, filename)
    else:
        response = FileResponse(fh, content_type=content_type, as_attachment=not inline, filename=filename)
        response["Content-Length"] = str(blob.size)
    return _harden(response, blob)


def export_zip_response(export: CircleExport, slug: str) -> FileResponse | None:
    """The finished export's zip as a download, or None when it isn't done or its file is gone
    (web and API answer that with their own 404)."""
    if export.status != ExportStatus.DONE or not export.storage_key:
        return None
    try:
        handle = archive_storage().open(export.storage_key, "rb")
    except OSError:
        return None
    name = f"{slug}-export-{export.created_at:%Y%m%d-%H%M}.zip"
    response = FileResponse(handle, as_attachment=True, filename=name, content_type="application/zip")
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
