"""Which rows make up a circle, per app: the plug-in point of export and import.

An app adds its content with ``register_exporter(ExportSpec(...))`` (see ``export_specs`` for
the built-in ones: circles, chat, archive, feed, checkins). A spec names a model and how to find
the circle's rows; every concrete field is then exported generically (foreign keys by id), so
fields added later travel without code changes. On import, ids are renumbered: foreign keys to
exported kinds are mapped, keys to things outside the export (price plans, ledger
transactions, invites) become NULL (or the row is skipped when the key is required).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.apps import apps
from django.db import models
from django.db.models import QuerySet


@dataclass
class ExportSpec:
    kind: str  # file name in the zip: data/<kind>.json, and the key in the manifest
    model: str  # "app_label.ModelName"
    rows: Callable[[object], QuerySet]  # circle -> the rows to export
    exclude: frozenset[str] = frozenset()  # field names never exported (passwords, files on other storages)
    # Integer columns holding ids of other kinds: {"thread_id": "feed.Comment"}.
    id_refs: dict[str, str] = field(default_factory=dict)
    # Polymorphic ids: {"attached_id": ("attached_kind", {"post": "feed.Post", …})}.
    poly_refs: dict[str, tuple[str, dict[str, str]]] = field(default_factory=dict)
    # Fixes a row after its keys were renumbered (e.g. keep an ordered pair ordered); None skips the row.
    after_remap: Callable[[dict], dict | None] | None = None
    # Unique text columns that get a fresh value when the importing instance already has it.
    regenerate_unique: dict[str, Callable[[], str]] = field(default_factory=dict)

    def get_model(self) -> type[models.Model] | None:
        try:
            return apps.get_model(self.model)
        except (LookupError, ValueError):
            return None


_specs: list[ExportSpec] = []


def register_exporter(spec: ExportSpec) -> None:
    """Add (or replace, by kind) what an app contributes to a circle export; order = import order.

    The built-in specs always come first, so an app's rows may refer to circles, users and files.
    """
    if spec.model.split(".")[0] not in {"circles", "chat", "archive", "feed", "checkins"}:
        _load_builtin()
    for i, existing in enumerate(_specs):
        if existing.kind == spec.kind:
            _specs[i] = spec
            return
    _specs.append(spec)


def export_specs() -> list[ExportSpec]:
    """The registered specs whose models exist in this installation, in import order."""
    _load_builtin()
    return [spec for spec in _specs if spec.get_model() is not None]


def _load_builtin() -> None:
    from . import export_specs  # noqa: F401 - registers the built-in specs on first import
