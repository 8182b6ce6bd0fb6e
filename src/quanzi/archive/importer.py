"""Restoring a circle export (``quanzi manage import_circle <zip>``) into another instance.

One transaction: either the whole circle arrives or nothing does (stored contents written
before a failure are removed again). Ids are renumbered as rows are inserted; keys to kinds
imported later (a circle's main group, a reply to a later row, a comment's thread) are set in a
second pass. People arrive without passwords (unusable: they use "forgot password") and
without staff rights. Refused before anything is written when the zip is not a Quanzi export
of a known version, when the circle's slug is taken, or when a username already exists here.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.files import File
from django.db import models, transaction

from .export import FORMAT, VERSION, concrete_fields, m2m_fields
from .export_registry import ExportSpec, export_specs
from .models import Blob
from .storage import archive_storage, blob_key

SHA256 = re.compile(r"^[0-9a-f]{64}$")
BATCH = 500
MAX_JSON_LINE = 10 * 1024 * 1024


class ImportRefused(Exception):
    """The export can't be imported here; the message says why (nothing was written)."""


@dataclass
class ImportResult:
    circle_id: int = 0
    slug: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    indexed: dict[str, int] = field(default_factory=dict)  # search documents written, by kind


def _rows(archive: zipfile.ZipFile, kind: str) -> Iterator[dict]:
    """The rows of data/<kind>.json, one line at a time (the export writes one row per line)."""
    name = f"data/{kind}.json"
    try:
        fh = archive.open(name)
    except KeyError:
        raise ImportRefused(f"The export has no {name}.") from None
    with fh, io.TextIOWrapper(fh, encoding="utf-8") as text:
        first = text.readline(MAX_JSON_LINE).strip()
        if first != "[":
            raise ImportRefused(f"{name} is not an export data file.")
        for line in text:
            line = line.strip()
            if line in ("]", ""):
                continue
            if len(line) > MAX_JSON_LINE:
                raise ImportRefused(f"{name} has a row that is too long.")
            try:
                row = json.loads(line.removesuffix(","))
            except json.JSONDecodeError:
                raise ImportRefused(f"{name} is not valid JSON.") from None
            if not isinstance(row, dict) or "id" not in row:
                raise ImportRefused(f"{name} has a row without an id.")
            yield row


def read_manifest(archive: zipfile.ZipFile) -> dict:
    try:
        manifest = json.loads(archive.read("manifest.json")[:1_000_000])
    except KeyError:
        raise ImportRefused("This zip is not a Quanzi circle export (no manifest.json).") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ImportRefused("manifest.json is not valid JSON.") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ImportRefused("This zip is not a Quanzi circle export.")
    if manifest.get("version") != VERSION:
        raise ImportRefused(f"Export format version {manifest.get('version')!r} is not supported (need {VERSION}).")
    if not isinstance(manifest.get("kinds"), list) or not isinstance(manifest.get("circle"), dict):
        raise ImportRefused("manifest.json is incomplete.")
    return manifest


@contextmanager
def _keep_timestamps(model_classes: list[type[models.Model]]):
    """Insert the exported created_at/updated_at values instead of 'now' (auto_now_add would overwrite them)."""
    changed = []
    for model in model_classes:
        for f in model._meta.concrete_fields:
            if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
                changed.append((f, f.auto_now, f.auto_now_add))
                f.auto_now = f.auto_now_add = False
    try:
        yield
    finally:
        for f, auto_now, auto_now_add in changed:
            f.auto_now, f.auto_now_add = auto_now, auto_now_add


class _Importer:
    def __init__(self, archive: zipfile.ZipFile, manifest: dict) -> None:
        self.archive = archive
        self.manifest = manifest
        self.ids: dict[str, dict[int, int]] = defaultdict(dict)  # model label -> old id -> new id
        self.deferred: list[tuple[type[models.Model], int, str, str, int]] = []  # model, new id, attname, label, old
        self.m2m: list[tuple[models.ManyToManyField, int, list[int]]] = []
        self.saved_keys: list[str] = []
        self.result = ImportResult()
        self.user_label = get_user_model()._meta.label_lower

    # --- checks before writing anything ---
    def check_conflicts(self) -> None:
        from quanzi.circles.models import Circle

        slug = self.manifest["circle"].get("slug")
        if not isinstance(slug, str) or not slug:
            raise ImportRefused("manifest.json has no circle slug.")
        if Circle.objects.filter(slug=slug).exists():
            raise ImportRefused(f"A circle with the slug {slug!r} already exists here.")
        usernames = [row.get("username") for row in _rows(self.archive, "users")]
        if any(not isinstance(u, str) or not u for u in usernames):
            raise ImportRefused("data/users.json has a person without a username.")
        taken = []
        user_model = get_user_model()
        for start in range(0, len(usernames), BATCH):
            chunk = usernames[start:start + BATCH]
            taken += list(user_model.objects.filter(username__in=chunk).values_list("username", flat=True))
        if taken:
            shown = ", ".join(sorted(taken)[:10])
            raise ImportRefused(f"{len(taken)} username(s) already exist here: {shown}. "
                                "Import into an empty instance, or rename those accounts first.")

    # --- users and blobs ---
    def import_users(self) -> None:
        user_model = get_user_model()
        allowed = {f.attname for f in user_model._meta.concrete_fields} - {
            "id", "password", "is_superuser", "is_staff", "last_login", "avatar"}
        batch: list[tuple[int, models.Model]] = []
        for row in _rows(self.archive, "users"):
            user = user_model(**{k: _to_python(user_model, k, v) for k, v in row.items() if k in allowed})
            user.set_unusable_password()
            batch.append((row["id"], user))
            if len(batch) >= BATCH:
                self._insert(user_model, batch)
                batch = []
        self._insert(user_model, batch)

    def import_blobs(self) -> None:
        storage = archive_storage()
        names = set(self.archive.namelist())
        for row in _rows(self.archive, "blobs"):
            sha = row.get("sha256")
            if not isinstance(sha, str) or not SHA256.match(sha):
                raise ImportRefused("data/blobs.json has an invalid sha256.")
            existing = Blob.objects.filter(sha256=sha).first()
            if existing is None:
                if f"files/{sha}" not in names:
                    raise ImportRefused(f"The export lacks the content files/{sha}.")
                size = int(row.get("size") or 0)
                data = self._read_content(sha, size)
                name = storage.save(blob_key(sha), File(io.BytesIO(data) if isinstance(data, bytes) else data))
                self.saved_keys.append(name)
                content_type = str(row.get("content_type") or "application/octet-stream")[:100]
                existing = Blob.objects.create(
                    sha256=sha, size=size, content_type=content_type, storage_key=name,
                    width=row.get("width"), height=row.get("height"))
            self.ids["archive.blob"][row["id"]] = existing.id
        self.result.counts["blobs"] = len(self.ids["archive.blob"])

    def _read_content(self, sha: str, size: int):
        """The content, checked against its size and SHA-256 (a forged or damaged zip is refused)."""
        import tempfile

        out = tempfile.SpooledTemporaryFile(max_size=4 * 1024 * 1024)  # noqa: SIM115
        digest = hashlib.sha256()
        total = 0
        with self.archive.open(f"files/{sha}") as src:
            while chunk := src.read(64 * 1024):
                total += len(chunk)
                if total > size:
                    raise ImportRefused(f"files/{sha} is larger than recorded.")
                digest.update(chunk)
                out.write(chunk)
        if total != size or digest.hexdigest() != sha:
            raise ImportRefused(f"files/{sha} does not match its SHA-256.")
        out.seek(0)
        return out

    # --- generic rows ---
    def import_kind(self, spec: ExportSpec) -> None:
        model = spec.get_model()
        label = model._meta.label_lower
        pending_labels = self.pending_labels
        fields = concrete_fields(model, spec.exclude)
        by_attname = {f.attname: f for f in fields}
        m2m = {f.name: f for f in m2m_fields(model, spec.exclude)}
        batch: list[tuple[int, models.Model]] = []
        post: list[tuple[int, list]] = []  # per row: deferred key updates and m2m lists
        skipped = 0
        for row in _rows(self.archive, spec.kind):
            old_id = row["id"]
            values: dict = {}
            later: list = []
            ok = True
            for attname, value in row.items():
                f = by_attname.get(attname)
                if attname == model._meta.pk.attname:
                    continue
                if attname in m2m:
                    later.append(("m2m", m2m[attname], value if isinstance(value, list) else []))
                    continue
                if f is None:
                    continue  # a column this installation does not have
                if f.is_relation and value is not None:
                    target = f.related_model._meta.label_lower
                    if target == label or target in pending_labels:
                        later.append(("fk", attname, target, value))
                        value = None
                    elif value in self.ids.get(target, {}):
                        value = self.ids[target][value]
                    else:
                        value = None  # outside the export (a price plan, a ledger row, an invite)
                    if value is None and not f.null and not any(x[1] == attname for x in later if x[0] == "fk"):
                        ok = False
                        break
                elif attname in spec.id_refs and value:
                    later.append(("fk", attname, spec.id_refs[attname].lower(), value))
                    value = 0 if not f.null else None
                elif attname in spec.poly_refs and value:
                    kind_field, mapping = spec.poly_refs[attname]
                    target = mapping.get(row.get(kind_field) or "", "").lower()
                    later.append(("fk", attname, target, value))
                    value = None if f.null else 0
                else:
                    value = _to_python(model, attname, value)
                values[attname] = value
            if not ok:
                skipped += 1
                continue
            for attname, make in spec.regenerate_unique.items():
                if values.get(attname) and model._default_manager.filter(**{attname: values[attname]}).exists():
                    values[attname] = make()
            if spec.after_remap is not None:
                fixed = spec.after_remap(values)
                if fixed is None:
                    skipped += 1
                    continue
                values = fixed
            if any(x[0] == "fk" and not by_attname[x[1]].null and by_attname[x[1]].is_relation for x in later):
                skipped += 1  # a required key to a later kind: specs are ordered so this doesn't happen
                continue
            batch.append((old_id, model(**values)))
            post.append((old_id, later))
            if len(batch) >= BATCH:
                self._insert(model, batch)
                batch = []
        self._insert(model, batch)
        new_ids = self.ids[label]
        for old_id, later in post:
            new_id = new_ids[old_id]
            for item in later:
                if item[0] == "m2m":
                    self.m2m.append((item[1], new_id, item[2]))
                else:
                    _, attname, target, old_target = item
                    self.deferred.append((model, new_id, attname, target, old_target))
        self.result.counts[spec.kind] = len(post)
        if skipped:
            self.result.skipped[spec.kind] = skipped

    def _insert(self, model: type[models.Model], batch: list[tuple[int, models.Model]]) -> None:
        if not batch:
            return
        created = model._default_manager.bulk_create([obj for _, obj in batch])
        label = model._meta.label_lower
        for (old_id, _), obj in zip(batch, created, strict=True):
            self.ids[label][old_id] = obj.pk

    def finish(self) -> None:
        """Second pass: keys to rows inserted after their row, then many-to-many links."""
        updates: dict[tuple[type[models.Model], str], list[tuple[int, int]]] = defaultdict(list)
        for model, new_id, attname, target, old_target in self.deferred:
            mapped = self.ids.get(target, {}).get(old_target)
            if mapped is not None:
                updates[(model, attname)].append((new_id, mapped))
        for (model, attname), pairs in updates.items():
            by_value: dict[int, list[int]] = defaultdict(list)
            if len(pairs) > 50:
                objs = [model(pk=new_id, **{attname: mapped}) for new_id, mapped in pairs]
                model._default_manager.bulk_update(objs, [attname], batch_size=BATCH)
                continue
            for new_id, mapped in pairs:
                by_value[mapped].append(new_id)
            for mapped, rows in by_value.items():
                model._default_manager.filter(pk__in=rows).update(**{attname: mapped})
        for f, new_id, old_targets in self.m2m:
            target = f.related_model._meta.label_lower
            mapped = [self.ids[target][t] for t in old_targets if t in self.ids.get(target, {})]
            if mapped:
                getattr(f.model._default_manager.get(pk=new_id), f.name).add(*mapped)

    @property
    def pending_labels(self) -> set[str]:
        return self._pending

    def run(self, specs: list[ExportSpec]) -> ImportResult:
        kinds = [k for k in self.manifest["kinds"] if k not in ("users", "blobs")]
        by_kind = {s.kind: s for s in specs}
        ordered = [by_kind[k] for k in kinds if k in by_kind]
        self._pending = {s.get_model()._meta.label_lower for s in ordered}
        self.import_users()
        self.result.counts["users"] = len(self.ids[self.user_label])
        self.import_blobs()
        with _keep_timestamps([s.get_model() for s in ordered]):
            for spec in ordered:
                self.import_kind(spec)
                self._pending.discard(spec.get_model()._meta.label_lower)
        self.finish()
        circles = self.ids.get("circles.circle", {})
        if len(circles) != 1:
            raise ImportRefused("The export does not contain exactly one circle.")
        self.result.circle_id = next(iter(circles.values()))
        self.result.slug = self.manifest["circle"]["slug"]
        return self.result


def _to_python(model: type[models.Model], attname: str, value):
    try:
        f = model._meta.get_field(attname)
    except Exception:  # noqa: BLE001 - attnames of FKs are not field names; those are handled by callers
        return value
    if value is None:
        return None
    if isinstance(f, models.JSONField):
        return value
    try:
        return f.to_python(value)
    except Exception:  # noqa: BLE001 - a value this installation can't read is refused clearly
        raise ImportRefused(f"Bad value for {model._meta.label}.{attname}.") from None


def import_circle(path_or_file) -> ImportResult:
    """Import one export zip; raises ``ImportRefused`` with a clear message when it can't."""
    try:
        archive = zipfile.ZipFile(path_or_file)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ImportRefused(f"Not a readable zip file: {exc}") from None
    with archive:
        manifest = read_manifest(archive)
        importer = _Importer(archive, manifest)
        importer.check_conflicts()
        unknown = [k for k, label in (manifest.get("models") or {}).items() if not _model_exists(label)]
        try:
            with transaction.atomic():
                result = importer.run(export_specs())
        except BaseException:
            storage = archive_storage()
            for name in importer.saved_keys:
                storage.delete(name)
            raise
        if unknown:
            result.skipped.update({k: -1 for k in unknown})
    # Imported rows were written directly, without the content signals that index them: index the
    # circle now (after the commit), so search works on the new instance at once.
    from quanzi.search.actions import reindex

    result.indexed = reindex(result.circle_id)
    return result


def _model_exists(label: str) -> bool:
    try:
        apps.get_model(label)
    except (LookupError, ValueError):
        return False
    return True
