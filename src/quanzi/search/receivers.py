"""Keep the search index in step with content: listeners of ``quanzi.core.content`` signals.

The content's owner sends the signals after its transaction commits. Indexing one object is a
primary-key read of the content plus one upsert; a failure is logged and never breaks the
action that sent the signal (the content is already saved; ``search_reindex`` repairs the index).
"""

from __future__ import annotations

import logging

from django.dispatch import receiver

from quanzi.core.content import content_removed, content_saved

from . import actions
from .rules import KINDS

logger = logging.getLogger(__name__)


@receiver(content_saved, dispatch_uid="search_index_saved")
def index_saved_content(sender, *, kind: str, object_id: int, **kwargs) -> None:
    if kind not in KINDS:
        return
    try:
        actions.index_object(kind, int(object_id))
    except Exception:
        logger.exception("search: indexing %s %s failed", kind, object_id)


@receiver(content_removed, dispatch_uid="search_index_removed")
def unindex_removed_content(sender, *, kind: str, object_id: int, **kwargs) -> None:
    if kind not in KINDS:
        return
    try:
        actions.remove_document(kind, int(object_id))
    except Exception:
        logger.exception("search: removing %s %s from the index failed", kind, object_id)
