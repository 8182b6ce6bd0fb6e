"""The background export of a circle: writes the zip, stores it, keeps progress in CircleExport."""

from __future__ import annotations

import logging

from django.core.files import File
from django.db import transaction
from django.tasks import task
from django.utils import timezone

from .export import export_to_tempfile
from .models import CircleExport, ExportStatus
from .storage import archive_storage

logger = logging.getLogger(__name__)


def _set(export_id: int, **fields) -> None:
    CircleExport.objects.filter(id=export_id).update(**fields)


@task()
def run_circle_export(*, export_id: int) -> str:
    """Export one circle. Safe to re-run: only a queued export starts (claimed atomically)."""
    with transaction.atomic():
        claimed = CircleExport.objects.filter(id=export_id, status=ExportStatus.QUEUED).update(
            status=ExportStatus.RUNNING, step="starting")
    if not claimed:
        return "skipped"
    export = CircleExport.objects.select_related("circle").get(id=export_id)
    try:
        out, _manifest = export_to_tempfile(
            export.circle, progress=lambda percent, step: _set(export_id, progress=percent, step=step[:64]))
        with out:
            name = archive_storage().save(f"exports/{export.circle_id}/{export.public_id}.zip", File(out))
            size = archive_storage().size(name)
    except Exception as exc:  # any failure is shown to the owner; the details go to the log
        logger.exception("export %s failed", export_id)
        _set(export_id, status=ExportStatus.FAILED, error=str(exc)[:500] or type(exc).__name__,
             finished_at=timezone.now())
        return "failed"
    _set(export_id, status=ExportStatus.DONE, progress=100, step="done", storage_key=name, size=size,
         finished_at=timezone.now())
    return "done"
