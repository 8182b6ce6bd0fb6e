"""Writing a whole circle into one zip, row by row (docs/storage.md, "Export format").

Layout of the zip (format version 1)::

    manifest.json          {"format": "quanzi-circle-export", "version": 1, "kinds": [...], ...}
    data/users.json        the circle's people (no passwords, no e-mail verification state)
    data/blobs.json        the stored contents referenced by files and snapshots
    data/<kind>.json       one file per kind (circle, memberships, groups, messages, posts, …)
    files/<sha256>         each stored content once

Every data file is a JSON array with one row per line, so it can be read as JSON or streamed line
by line. Rows are the model's concrete fields by column name (foreign keys as ``<name>_id``),
many-to-many fields as lists of ids, times in ISO 8601 UTC. Rows are read from the database with
an iterator and written straight into the zip (a temporary file), so a big circle never sits in
memory.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import tempfile
import uuid
import zipfile
from collections.abc import Callable, Iterable
from typing import IO, Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from .export_registry import ExportSpec, export_specs
from .models import Blob
from .storage import CHUNK, open_blob

FORMAT = "quanzi-circle-export"
VERSION = 1
USER_FIELDS = ("id", "username", "display_name", "email", "first_name", "last_name", "bio", "language",
               "timezone", "date_joined", "is_active")
ITER_CHUNK = 1000

Progress = Callable[[int, str], None]


def json_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat() if timezone.is_aware(value) else value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, bytes | memoryview):
        return base64.b64encode(bytes(value)).decode()
    return value


def concrete_fields(model: type[models.Model], exclude: Iterable[str] = ()) -> list[models.Field]:
    skip = set(exclude)
    return [f for f in model._meta.concrete_fields if f.name not in skip and not isinstance(f, models.FileField)]


def m2m_fields(model: type[models.Model], exclude: Iterable[str] = ()) -> list[models.ManyToManyField]:
    skip = set(exclude)
    return [f for f in model._meta.many_to_many if f.name not in skip]


class _JsonArrayWriter:
    """A JSON array written one row per line into a zip entry."""

    def __init__(self, archive: zipfile.ZipFile, name: str) -> None:
        self._fh = archive.open(name, "w", force_zip64=True)
        self._fh.write(b"[\n")
        self._first = True
        self.count = 0

    def write(self, row: dict) -> None:
        line = json.dumps(row, ensure_ascii=False, separators=(",", ":"), default=json_value)
        self._fh.write((b"" if self._first else b",\n") + line.encode())
        self._first = False
        self.count += 1

    def close(self) -> None:
        self._fh.write(b"\n]\n")
        self._fh.close()


def _row(obj: models.Model, fields: list[models.Field], m2m: list[models.ManyToManyField]) -> dict:
    row = {f.attname: json_value(getattr(obj, f.attname)) for f in fields}
    for f in m2m:
        row[f.name] = sorted(related.pk for related in getattr(obj, f.name).all())
    return row


def write_export(circle, out: IO[bytes], *, progress: Progress | None = None) -> dict:
    """Write the circle's export zip into ``out``; returns the manifest."""
    user_model = settings.AUTH_USER_MODEL.lower()
    specs = export_specs()
    totals = {spec.kind: spec.rows(circle).count() for spec in specs}
    total = max(sum(totals.values()), 1)
    done = 0
    user_ids: set[int] = set()
    blob_ids: set[int] = set()
    counts: dict[str, int] = {}

    def report(step: str) -> None:
        if progress:
            progress(min(90, done * 90 // total), step)

    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        for spec in specs:
            model = spec.get_model()
            fields = concrete_fields(model, spec.exclude)
            m2m = m2m_fields(model, spec.exclude)
            user_fks = [f.attname for f in fields if f.is_relation and f.related_model._meta.label_lower == user_model]
            blob_fks = [f.attname for f in fields if f.is_relation and f.related_model is Blob]
            user_m2m = [f.name for f in m2m if f.related_model._meta.label_lower == user_model]
            writer = _JsonArrayWriter(archive, f"data/{spec.kind}.json")
            qs = spec.rows(circle).order_by("pk")
            if m2m:
                qs = qs.prefetch_related(*[f.name for f in m2m])
            for obj in qs.iterator(chunk_size=ITER_CHUNK):
                row = _row(obj, fields, m2m)
                user_ids.update(row[a] for a in user_fks if row[a] is not None)
                blob_ids.update(row[a] for a in blob_fks if row[a] is not None)
                for name in user_m2m:
                    user_ids.update(row[name])
                writer.write(row)
                done += 1
                if done % 500 == 0:
                    report(spec.kind)
            writer.close()
            counts[spec.kind] = writer.count
            report(spec.kind)

        writer = _JsonArrayWriter(archive, "data/users.json")
        user_cls = _user_model()
        for user in user_cls.objects.filter(id__in=user_ids).order_by("id").iterator(chunk_size=ITER_CHUNK):
            writer.write({name: json_value(getattr(user, name, None)) for name in USER_FIELDS})
        writer.close()
        counts["users"] = writer.count

        # A zip takes one open entry at a time: the blob rows wait in a temporary file while the contents go in.
        blobs = Blob.objects.filter(id__in=blob_ids).order_by("id")
        blob_total = max(len(blob_ids), 1)
        n = 0
        with tempfile.SpooledTemporaryFile(max_size=4 * 1024 * 1024) as rows:
            for n, blob in enumerate(blobs.iterator(chunk_size=ITER_CHUNK), start=1):
                row = {"id": blob.id, "sha256": blob.sha256, "size": blob.size, "content_type": blob.content_type,
                       "width": blob.width, "height": blob.height, "created_at": json_value(blob.created_at)}
                rows.write(json.dumps(row, separators=(",", ":")).encode() + b"\n")
                with open_blob(blob) as src, archive.open(f"files/{blob.sha256}", "w", force_zip64=True) as dst:
                    while chunk := src.read(CHUNK):
                        dst.write(chunk)
                if progress and n % 20 == 0:
                    progress(90 + n * 9 // blob_total, "files")
            rows.seek(0)
            writer = _JsonArrayWriter(archive, "data/blobs.json")
            for line in rows:
                writer.write(json.loads(line))
            writer.close()
        counts["blobs"] = n

        manifest = {
            "format": FORMAT,
            "version": VERSION,
            "exported_at": json_value(timezone.now()),
            "circle": {"id": circle.id, "slug": circle.slug, "name": circle.name},
            "kinds": ["users", "blobs", *[spec.kind for spec in specs]],
            "models": {spec.kind: spec.model for spec in specs},
            "counts": counts,
        }
        archive.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2))
    if progress:
        progress(100, "done")
    return manifest


def _user_model():
    from django.contrib.auth import get_user_model

    return get_user_model()


def export_to_tempfile(circle, *, progress: Progress | None = None) -> tuple[IO[bytes], dict]:
    out = tempfile.TemporaryFile()  # noqa: SIM115 - handed to the caller, who closes it
    manifest = write_export(circle, out, progress=progress)
    out.seek(0)
    return out, manifest


__all__ = ["FORMAT", "VERSION", "ExportSpec", "export_to_tempfile", "write_export"]
