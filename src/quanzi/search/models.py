"""The search index: one row per searchable piece of content, in every circle.

The row carries what the query needs to narrow results cheaply (circle, kind, chat group) and the
text twice: ``text`` as shown in snippets (NFKC-normalised) and ``folded`` (also case-folded),
which the database indexes — an FTS5 trigram table on SQLite, a pg_trgm GIN index on PostgreSQL
(both created in migration 0001). Whether a reader may see a hit is decided again at query time
(``search.rules``), so a stale row can never leak anything.
"""

from __future__ import annotations

from django.db import models


class SearchDocument(models.Model):
    kind = models.CharField(max_length=32)  # "message", "post", "comment", "file", "snapshot"
    object_id = models.PositiveBigIntegerField()
    circle = models.ForeignKey("circles.Circle", on_delete=models.CASCADE, related_name="+", db_index=False)
    # The chat group of a message (DMs included); None for content that belongs to the whole circle.
    group = models.ForeignKey("chat.Group", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    visibility = models.CharField(max_length=32, blank=True, default="")
    title = models.CharField(max_length=300, blank=True, default="")
    text = models.TextField()
    folded = models.TextField()
    created_at = models.DateTimeField()
    indexed_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "object_id"], name="uniq_search_document")]
        indexes = [models.Index(fields=["circle", "-id"], name="search_doc_circle_id")]

    def __str__(self) -> str:
        return f"{self.kind} {self.object_id} in circle {self.circle_id}"
