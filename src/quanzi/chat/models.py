"""Groups (chat rooms and announcement channels), messages and personal notices."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class GroupKind(models.TextChoices):
    MAIN = "main", _("Main group")
    GROUP = "group", _("Group")
    CHANNEL = "channel", _("Announcement channel")
    DM = "dm", _("Direct messages")


class Group(models.Model):
    circle = models.ForeignKey("circles.Circle", on_delete=models.CASCADE, related_name="groups")
    name = models.CharField(_("name"), max_length=80)
    topic = models.CharField(_("topic"), max_length=300, blank=True)
    kind = models.CharField(max_length=16, choices=GroupKind.choices, default=GroupKind.GROUP)
    mute_all = models.BooleanField(_("only moderators may post"), default=False)
    slow_mode_seconds = models.PositiveIntegerField(_("slow mode (seconds)"), default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_channel(self) -> bool:
        return self.kind == GroupKind.CHANNEL


class GroupMember(models.Model):
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="group_memberships")
    joined_at = models.DateTimeField(auto_now_add=True)
    last_read_message_id = models.BigIntegerField(default=0)
    last_posted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["group", "user"], name="uniq_group_member")]
        indexes = [models.Index(fields=["user"])]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.group_id}"


class MessageKind(models.TextChoices):
    TEXT = "text", _("Text")
    SYSTEM = "system", _("System")


class ModerationState(models.TextChoices):
    """Whether others see a message: held ones wait in the review queue, removed ones are gone."""

    VISIBLE = "visible", _("Visible")
    HELD = "held", _("Held for review")
    REMOVED = "removed", _("Removed by moderation")


class Message(models.Model):
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    kind = models.CharField(max_length=16, choices=MessageKind.choices, default=MessageKind.TEXT)
    # db_default: do_send_message inserts with plain SQL and may leave the column out.
    moderation_state = models.CharField(
        max_length=16, choices=ModerationState.choices, default=ModerationState.VISIBLE,
        db_default=ModerationState.VISIBLE,
    )
    body = models.TextField()
    body_html = models.TextField()
    reply_to = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    mentions_all = models.BooleanField(default=False)
    mentioned_users = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    client_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    edited_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    pinned_at = models.DateTimeField(null=True, blank=True)
    pinned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["group", "id"])]
        constraints = [
            # A client retrying a send after a dropped connection gets the same message back.
            models.UniqueConstraint(
                fields=["group", "author", "client_id"],
                condition=~models.Q(client_id=""),
                name="uniq_message_client_id",
            )
        ]

    def __str__(self) -> str:
        return f"#{self.id} in {self.group_id}"


class NoticeKind(models.TextChoices):
    WELCOME = "welcome", _("Welcome")
    MENTION = "mention", _("Mention")
    CHANNEL_POST = "channel_post", _("Channel post")
    JOIN_REQUEST = "join_request", _("Join request")
    MODERATION = "moderation", _("Moderation")
    DIRECT_MESSAGE = "direct_message", _("Direct message")
    REPORT = "report", _("Report")
    FEED = "feed", _("Feed activity")
    CHECKIN_REMINDER = "checkin_reminder", _("Check-in reminder")
    CHALLENGE = "challenge", _("Challenge")
    PAYMENT = "payment", _("Payment")


class Notice(models.Model):
    """A personal notification for one user."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notices")
    circle = models.ForeignKey("circles.Circle", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=32, choices=NoticeKind.choices)
    text = models.TextField()
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["user", "read_at"])]

    def __str__(self) -> str:
        return f"{self.kind} for {self.user_id}"


# --- direct messages (docs/dms.md) --------------------------------------------------------


class DmPair(models.Model):
    """The one DM conversation of two people in a circle: a chat Group of kind "dm".

    The unique constraint on (circle, low_user, high_user), with ``low_user_id <
    high_user_id``, is what keeps two concurrent "start a DM" requests from making two
    conversations: the loser's insert fails and it reads the winner's row.
    """

    circle = models.ForeignKey("circles.Circle", on_delete=models.CASCADE, related_name="+")
    low_user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    high_user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    group = models.OneToOneField(Group, on_delete=models.CASCADE, related_name="dm_pair")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["circle", "low_user", "high_user"], name="uniq_dm_pair"),
            models.CheckConstraint(condition=models.Q(low_user__lt=models.F("high_user")), name="dm_pair_ordered"),
        ]
        indexes = [models.Index(fields=["high_user", "circle"])]

    def __str__(self) -> str:
        return f"dm {self.low_user_id}/{self.high_user_id} in {self.circle_id}"

    def peer_id(self, user_id: int) -> int:
        return self.high_user_id if user_id == self.low_user_id else self.low_user_id


class Block(models.Model):
    """``blocker`` blocked ``blocked``: no direct messages either way, in any circle."""

    blocker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    blocked = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["blocker", "blocked"], name="uniq_block"),
            models.CheckConstraint(condition=~models.Q(blocker=models.F("blocked")), name="block_not_self"),
        ]
        indexes = [models.Index(fields=["blocked", "blocker"])]

    def __str__(self) -> str:
        return f"{self.blocker_id} blocks {self.blocked_id}"
