"""Posts, comments and likes of a circle's member-only feed (like Knowledge Planet's 星球).

The feed is read far more than written, so reads get denormalised columns: a post carries its
tags (as a list, for display; ``PostTag`` rows are the filter index), its like and comment
counts, and ``pinned``/``featured`` flags that lead the feed's sort key. Sort order and cursor:
``(pinned DESC, created_at DESC, id DESC)``, see ``selectors.feed_page``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from quanzi.chat.models import ModerationState


class PostVisibility(models.TextChoices):
    MEMBERS = "members", _("All members")
    MODERATORS = "moderators", _("Moderators and up")
    PLAN = "plan", _("Holders of a paid plan")


class Post(models.Model):
    circle = models.ForeignKey("circles.Circle", on_delete=models.CASCADE, related_name="posts")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    title = models.CharField(_("title"), max_length=200, blank=True, default="")
    body = models.TextField(_("text"))
    body_html = models.TextField()
    tags = models.JSONField(default=list, blank=True)  # display copy of PostTag names, in the author's order
    visibility = models.CharField(
        _("who can see it"), max_length=16, choices=PostVisibility.choices, default=PostVisibility.MEMBERS
    )
    # With visibility "plan": holders of this plan (see rules.held_plan_ids). A deleted plan leaves the
    # post to moderators and the author.
    plan = models.ForeignKey("payments.PricePlan", null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+")
    moderation_state = models.CharField(
        max_length=16, choices=ModerationState.choices, default=ModerationState.VISIBLE,
        db_default=ModerationState.VISIBLE,
    )
    pinned = models.BooleanField(default=False)
    pinned_at = models.DateTimeField(null=True, blank=True)
    featured = models.BooleanField(default=False)
    featured_at = models.DateTimeField(null=True, blank=True)
    like_count = models.PositiveIntegerField(default=0)
    comment_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(db_index=False)
    edited_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    # The post's own fields as the API's JSON object (all but the reader's ``liked``), written by the
    # database itself: a trigger renders it on every INSERT and UPDATE of the row, whatever wrote it
    # (actions, ``QuerySet.update``, a SET NULL cascade, an import), so it cannot go stale. The API's
    # feed page reads it instead of building 20 objects per page (feed/pagejson.py). Never set it.
    api_json = models.TextField(null=True, editable=False)

    class Meta:
        indexes = [
            # The feed and its cursor: WHERE circle = ? AND (pinned, created_at, id) < (?, ?, ?) ORDER BY the same.
            models.Index(fields=["circle", "pinned", "created_at", "id"], name="feed_post_stream",
                         condition=Q(deleted_at__isnull=True)),
            models.Index(fields=["circle", "pinned", "created_at", "id"], name="feed_post_featured",
                         condition=Q(deleted_at__isnull=True, featured=True)),
        ]

    def __str__(self) -> str:
        return f"post #{self.id} in {self.circle_id}"


class PostTag(models.Model):
    """One tag of one post: what the tag filter searches."""

    circle = models.ForeignKey("circles.Circle", on_delete=models.CASCADE, related_name="+")
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="tag_rows")
    name = models.CharField(max_length=30)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["post", "name"], name="feed_uniq_post_tag")]
        indexes = [models.Index(fields=["circle", "name", "post"], name="feed_tag_lookup")]

    def __str__(self) -> str:
        return f"#{self.name} on {self.post_id}"


class Comment(models.Model):
    """A comment on a post, or a reply (one level: ``parent`` is always a top-level comment).

    ``thread_id`` is the top-level comment's id (its own id for a top-level one), so one index
    on ``(post, thread_id, id)`` lists a post's comments with their replies under them.
    """

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="comments")
    circle = models.ForeignKey("circles.Circle", on_delete=models.CASCADE, related_name="+")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="replies")
    reply_to_user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                      related_name="+")
    thread_id = models.BigIntegerField(default=0)
    body = models.TextField()
    body_html = models.TextField()
    moderation_state = models.CharField(
        max_length=16, choices=ModerationState.choices, default=ModerationState.VISIBLE,
        db_default=ModerationState.VISIBLE,
    )
    like_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField()
    edited_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        indexes = [models.Index(fields=["post", "thread_id", "id"], name="feed_comment_thread")]

    def __str__(self) -> str:
        return f"comment #{self.id} on {self.post_id}"


class PostLike(models.Model):
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="likes")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["post", "user"], name="feed_uniq_post_like")]
        indexes = [models.Index(fields=["user", "post"], name="feed_post_like_user")]

    def __str__(self) -> str:
        return f"{self.user_id} likes post {self.post_id}"


class CommentLike(models.Model):
    comment = models.ForeignKey(Comment, on_delete=models.CASCADE, related_name="likes")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["comment", "user"], name="feed_uniq_comment_like")]
        indexes = [models.Index(fields=["user", "comment"], name="feed_comment_like_user")]

    def __str__(self) -> str:
        return f"{self.user_id} likes comment {self.comment_id}"


class PostAttachment(models.Model):
    """A file of the circle's archive (image, file or voice note) shown with a post, in ``position`` order."""

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="attachments")
    file = models.ForeignKey("archive.CircleFile", on_delete=models.CASCADE, related_name="+")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["post", "position"]
        constraints = [models.UniqueConstraint(fields=["post", "file"], name="feed_uniq_post_file")]
        indexes = [models.Index(fields=["post", "position"], name="feed_attachment_order"),
                   models.Index(fields=["file"], name="feed_attachment_file")]

    def __str__(self) -> str:
        return f"file {self.file_id} on post {self.post_id}"
