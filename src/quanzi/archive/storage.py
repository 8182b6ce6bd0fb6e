"""Content-addressed blobs in the "archive" storage (local disk or S3-compatible, settings.STORAGES).

A blob's storage key is derived from its SHA-256 (``blobs/ab/cd/abcd…``), never from a name a
user sent, so no path can be steered. Storing content that is already kept only returns the
existing ``Blob`` row: one stored copy per content, any number of circle files pointing at it.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterator
from typing import IO

from django.core.files import File
from django.core.files.storage import Storage, storages
from django.db import IntegrityError, transaction

from .models import Blob

CHUNK = 64 * 1024
SPOOL_BYTES = 4 * 1024 * 1024  # bigger uploads are hashed through a temporary file, not memory


def archive_storage() -> Storage:
    return storages["archive"]


def blob_key(sha256: str) -> str:
    return f"blobs/{sha256[:2]}/{sha256[2:4]}/{sha256}"


def sha256_of(fh: IO[bytes]) -> tuple[str, int]:
    """Hash and size of a seekable file, read in chunks; leaves it at the start."""
    fh.seek(0)
    digest = hashlib.sha256()
    size = 0
    while chunk := fh.read(CHUNK):
        digest.update(chunk)
        size += len(chunk)
    fh.seek(0)
    return digest.hexdigest(), size


def spool(chunks: Iterator[bytes], *, limit: int) -> tuple[IO[bytes], int] | None:
    """Copy chunks into a seekable temporary file; None as soon as more than ``limit`` bytes arrive."""
    out = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - returned to the caller
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > limit:
            out.close()
            return None
        out.write(chunk)
    out.seek(0)
    return out, size


def store_blob(fh: IO[bytes], *, content_type: str, width: int | None = None, height: int | None = None) -> Blob:
    """The blob for this content, storing it only if no blob has the same SHA-256.

    Committed on its own (a savepoint when called inside a transaction): two people storing the
    same bytes at once both end up with the one row; the loser's copy is removed from storage.
    An unreferenced blob is harmless and is collected by ``quanzi manage archive_gc``.
    """
    sha256, size = sha256_of(fh)
    existing = Blob.objects.filter(sha256=sha256).first()
    if existing is not None:
        return existing
    storage = archive_storage()
    name = storage.save(blob_key(sha256), File(fh, name=sha256))
    fh.seek(0)
    try:
        with transaction.atomic():
            return Blob.objects.create(sha256=sha256, size=size, content_type=content_type, storage_key=name,
                                       width=width, height=height)
    except IntegrityError:
        blob = Blob.objects.get(sha256=sha256)
        if blob.storage_key != name:
            storage.delete(name)
        return blob


def open_blob(blob: Blob) -> IO[bytes]:
    return archive_storage().open(blob.storage_key, "rb")


def delete_blob(blob: Blob) -> None:
    """Remove the stored content and the row (callers make sure nothing references it)."""
    archive_storage().delete(blob.storage_key)
    blob.delete()
