"""Per-circle anti-ad policy, members' trust levels, strikes, and the review queue.

The classifier (``moderation.classifier``) scores text; these rows say what a circle does
with a score (``CirclePolicy``), how far it trusts each member (``MemberTrust``), and what
its moderators still have to look at (``ReviewItem`` with its ``Report`` rows). Field
meanings and defaults are documented in docs/moderation.md.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Action(models.TextChoices):
    """What the gate does with a piece of content."""

    ALLOW = "allow", _("Allow")
    HOLD = "hold", _("Hold for review")
    DELETE = "delete", _("Delete and warn")
    MUTE = "mute", _("Delete and mute the author")


# Defaults a new circle gets (see docs/moderation.md for why these numbers).
DEFAULT_HOLD_THRESHOLD = 0.5
DEFAULT_DELETE_THRESHOLD = 0.9
DEFAULT_MUTE_MINUTES = 60
DEFAULT_KICK_AFTER_STRIKES = 3
DEFAULT_STRIKE_WINDOW_DAYS = 30
DEFAULT_NEWCOMER_LINK_HOURS = 24
DEFAULT_FLOOD_MESSAGES = 10
DEFAULT_FLOOD_SECONDS = 15
DEFAULT_DUPLICATE_GROUPS = 2
DEFAULT_DUPLICATE_MINUTES = 10


class CirclePolicy(models.Model):
    """One per circle, created with the defaults the first time anything asks for it."""

    circle = models.OneToOneField("circles.Circle", on_delete=models.CASCADE, related_name="moderation_policy")
    enabled = models.BooleanField(_("screen content automatically"), default=True)
    hold_threshold = models.FloatField(_("hold at score"), default=DEFAULT_HOLD_THRESHOLD)
    hold_action = models.CharField(
        _("action at the hold score"), max_length=16, choices=Action.choices, default=Action.HOLD
    )
    delete_threshold = models.FloatField(_("delete at score"), default=DEFAULT_DELETE_THRESHOLD)
    delete_action = models.CharField(
        _("action at the delete score"), max_length=16, choices=Action.choices, default=Action.DELETE
    )
    mute_minutes = models.PositiveIntegerField(_("mute length (minutes)"), default=DEFAULT_MUTE_MINUTES)
    kick_after_strikes = models.PositiveIntegerField(
        _("kick after this many strikes (0: never)"), default=DEFAULT_KICK_AFTER_STRIKES
    )
    strike_window_days = models.PositiveIntegerField(_("strikes count for (days)"), default=DEFAULT_STRIKE_WINDOW_DAYS)
    # Links: one domain per line; a domain covers its subdomains.
    allowed_domains = models.TextField(_("allowed link domains"), blank=True, default="")
    blocked_domains = models.TextField(_("blocked link domains"), blank=True, default="")
    newcomer_link_hours = models.PositiveIntegerField(
        _("newcomers may not post links for (hours)"), default=DEFAULT_NEWCOMER_LINK_HOURS
    )
    # Keyword and regex rules, one per line, matched against the normalised text.
    keywords = models.TextField(_("keywords"), blank=True, default="")
    regex_rules = models.TextField(_("regular expressions"), blank=True, default="")
    rule_action = models.CharField(
        _("action when a keyword or expression matches"), max_length=16, choices=Action.choices, default=Action.HOLD
    )
    flood_messages = models.PositiveIntegerField(_("flood: messages (0: off)"), default=DEFAULT_FLOOD_MESSAGES)
    flood_seconds = models.PositiveIntegerField(_("flood: within seconds"), default=DEFAULT_FLOOD_SECONDS)
    duplicate_groups = models.PositiveIntegerField(
        _("same text in this many groups is spam (0: off)"), default=DEFAULT_DUPLICATE_GROUPS
    )
    duplicate_minutes = models.PositiveIntegerField(_("within minutes"), default=DEFAULT_DUPLICATE_MINUTES)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"moderation policy of {self.circle_id}"


class TrustLevel(models.IntegerChoices):
    NEWCOMER = 0, _("Newcomer")
    BASIC = 1, _("Basic")
    MEMBER = 2, _("Member")
    REGULAR = 3, _("Regular")


class MemberTrust(models.Model):
    """A member's trust level in one circle and the activity that earns it."""

    circle = models.ForeignKey("circles.Circle", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    level = models.PositiveSmallIntegerField(choices=TrustLevel.choices, default=TrustLevel.NEWCOMER)
    locked_by_admin = models.BooleanField(default=False)
    messages = models.PositiveIntegerField(default=0)  # accepted messages, posts and comments
    active_days = models.PositiveIntegerField(default=0)  # days (UTC) with at least one accepted post
    last_active_day = models.DateField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["circle", "user"], name="moderation_uniq_trust")]

    def __str__(self) -> str:
        return f"{self.user_id}@{self.circle_id} level {self.level}"


class ContentKind(models.TextChoices):
    MESSAGE = "message", _("Chat message")
    POST = "post", _("Post")
    COMMENT = "comment", _("Comment")
    BIO = "bio", _("Profile bio")


class ItemStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for review")
    APPROVED = "approved", _("Approved")
    REMOVED = "removed", _("Removed")


class Decision(models.TextChoices):
    APPROVE = "approve", _("Approve")
    DELETE = "delete", _("Delete")
    MUTE = "mute", _("Delete and mute")
    BAN = "ban", _("Delete and ban")


class ReviewItem(models.Model):
    """One piece of content in a circle's review queue: held by the gate, removed by it, or reported."""

    circle = models.ForeignKey("circles.Circle", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16, choices=ContentKind.choices)
    object_id = models.BigIntegerField()
    group_id = models.BigIntegerField(null=True, blank=True)  # chat messages: where it was sent
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    text = models.TextField()  # what the author wrote, kept for the decision (and the audit trail)
    score = models.FloatField(default=0.0)
    reasons = models.JSONField(default=list)
    auto_action = models.CharField(max_length=16, choices=Action.choices, default=Action.ALLOW)
    status = models.CharField(max_length=16, choices=ItemStatus.choices, default=ItemStatus.PENDING)
    report_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    decision = models.CharField(max_length=16, choices=Decision.choices, blank=True, default="")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["circle", "kind", "object_id"], name="moderation_uniq_item")
        ]
        indexes = [models.Index(fields=["circle", "status", "id"], name="moderation_queue")]

    def __str__(self) -> str:
        return f"{self.kind} #{self.object_id} ({self.status})"


class Report(models.Model):
    """A member's "report as ad": one per reporter per item."""

    item = models.ForeignKey(ReviewItem, on_delete=models.CASCADE, related_name="reports")
    circle = models.ForeignKey("circles.Circle", on_delete=models.CASCADE, related_name="+")
    reporter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["item", "reporter"], name="moderation_uniq_report")]
        indexes = [models.Index(fields=["reporter", "created_at"], name="moderation_reporter_recent")]

    def __str__(self) -> str:
        return f"report by {self.reporter_id} on {self.item_id}"


class Strike(models.Model):
    """One count against a member: content removed as spam (by the gate or a moderator)."""

    circle = models.ForeignKey("circles.Circle", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    item = models.ForeignKey(ReviewItem, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    reason = models.CharField(max_length=500)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)  # the removal was approved after all

    class Meta:
        indexes = [models.Index(fields=["circle", "user", "created_at"], name="moderation_strikes")]

    def __str__(self) -> str:
        return f"strike on {self.user_id}@{self.circle_id}"


class CircleLearning(models.Model):
    """What a circle's moderators taught the classifier: the adaptation state and how many decisions it used."""

    circle = models.OneToOneField("circles.Circle", on_delete=models.CASCADE, related_name="+")
    decisions = models.PositiveIntegerField(default=0)
    state = models.JSONField(default=dict)  # the classifier's per-circle adaptation (see docs/classifier.md)
    version = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"learning of {self.circle_id} ({self.decisions} decisions)"
