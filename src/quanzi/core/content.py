"""Signals for user-written content, so search and link snapshots follow every kind of content.

Owners of content (chat messages, feed posts and comments, files, check-ins …) send these after
the change is committed (``transaction.on_commit``); indexers and the link-snapshot fetcher receive
them. Keeping them here means the content apps need not know who listens.

Arguments of both signals:
- ``kind``: a short stable name ("message", "post", "comment", "file", "snapshot", "checkin", …)
- ``object_id``: the primary key of the content row
- ``circle_id``: the circle it belongs to
``content_saved`` also gets ``text`` (the plain text a person wrote, for indexing and URL finding)
and ``created`` (True on creation, False on edit).
"""

from __future__ import annotations

from django.dispatch import Signal

content_saved = Signal()
content_removed = Signal()
