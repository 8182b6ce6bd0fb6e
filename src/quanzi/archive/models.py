"""Files kept forever (content-addressed blobs, circle files) and circle exports.

A ``Blob`` is one stored content, named by its SHA-256: the same bytes uploaded twice (by anyone,
in any circle) are stored once. A ``CircleFile`` is one person's upload into one circle: it
points at a blob and carries the name, kind and owner; access is always checked on the circle
file, never on the blob (blobs have no URL of their own).
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


def new_public_id() -> str:
    """An unguessable id for download URLs (128 bits), so file URLs can't be enumerated."""
    return secrets.token_urlsafe(16)


class Blob(models.Model):
    sha256 = models.CharField(max_length=64, unique=True)
    size = models.PositiveBigIntegerField()
    content_type = models.CharField(max_length=100)
    storage_key = models.CharField(max_length=200)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.sha256


class FileKind(models.TextChoices):
    IMAGE = "image", _("Image")
    FILE = "file", _("File")
    VOICE = "voice", _("Voice note")


class CircleFile(models.Model):
    public_id = models.CharField(max_length=32, unique=True, default=new_public_id)
    circle = models.ForeignKey("circles.Circle", on_delete=models.CASCADE, related_name="files")
    uploader = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    blob = models.ForeignKey(Blob, on_delete=models.PROTECT, related_name="files")
    thumbnail = models.ForeignKey(Blob, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=255)
    kind = models.CharField(max_length=16, choices=FileKind.choices, default=FileKind.FILE)
    # Which piece of content claims this file ("post", "comment", "checkin", "message", …), if any.
    attached_kind = models.CharField(max_length=32, blank=True, default="")
    attached_id = models.PositiveBigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["circle", "deleted_at", "-id"]),
            models.Index(fields=["attached_kind", "attached_id"]),
        ]

    def __str__(self) -> str:
        return self.name


class ExportStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Ready")
    FAILED = "failed", _("Failed")


class CircleExport(models.Model):
    """One export of a whole circle (a zip in the archive storage), with its progress."""

    public_id = models.CharField(max_length=32, unique=True, default=new_public_id)
    circle = models.ForeignKey("circles.Circle", on_delete=models.CASCADE, related_name="exports")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                     related_name="+")
    status = models.CharField(max_length=16, choices=ExportStatus.choices, default=ExportStatus.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)  # percent
    step = models.CharField(max_length=64, blank=True, default="")
    storage_key = models.CharField(max_length=200, blank=True, default="")
    size = models.PositiveBigIntegerField(default=0)
    error = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"export {self.public_id} of circle {self.circle_id} ({self.status})"


# --- link snapshots (archive/snapshots.py) ----------------------------------------------------


class SnapshotStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    OK = "ok", _("Archived")
    FAILED = "failed", _("Failed")


class LinkSnapshot(models.Model):
    """A copy of a linked web page (text, metadata, main images) kept even after the page disappears.

    One per normalised URL per circle: ``url_key`` is the SHA-256 of the normalised URL, so the
    unique index stays small however long the URL is.
    """

    circle = models.ForeignKey("circles.Circle", on_delete=models.CASCADE, related_name="link_snapshots")
    url_key = models.CharField(max_length=64)
    url = models.TextField()  # the normalised requested URL
    final_url = models.TextField(blank=True, default="")
    status = models.CharField(max_length=16, choices=SnapshotStatus.choices, default=SnapshotStatus.PENDING)
    failure_reason = models.CharField(max_length=300, blank=True, default="")
    title = models.CharField(max_length=500, blank=True, default="")
    description = models.TextField(blank=True, default="")
    site_name = models.CharField(max_length=200, blank=True, default="")
    text = models.TextField(blank=True, default="")
    image = models.ForeignKey(Blob, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    fetched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["circle", "url_key"], name="uniq_snapshot_url_per_circle")]

    def __str__(self) -> str:
        return f"snapshot {self.id} of {self.url[:80]} ({self.status})"


class SnapshotImage(models.Model):
    """One image of a snapshot, copied into our blob storage (og:image first, then content images)."""

    snapshot = models.ForeignKey(LinkSnapshot, on_delete=models.CASCADE, related_name="images")
    blob = models.ForeignKey(Blob, on_delete=models.PROTECT, related_name="+")
    position = models.PositiveSmallIntegerField(default=0)
    source_url = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["position", "id"]
        constraints = [models.UniqueConstraint(fields=["snapshot", "position"], name="uniq_snapshot_image_position")]

    def __str__(self) -> str:
        return f"image {self.position} of snapshot {self.snapshot_id}"


class SnapshotCitation(models.Model):
    """Which piece of content ("message", "post", "comment", …) linked to a snapshot's URL."""

    snapshot = models.ForeignKey(LinkSnapshot, on_delete=models.CASCADE, related_name="citations")
    kind = models.CharField(max_length=32)
    object_id = models.PositiveBigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["snapshot", "kind", "object_id"], name="uniq_snapshot_citation")
        ]
        indexes = [models.Index(fields=["kind", "object_id"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.object_id} cites snapshot {self.snapshot_id}"
