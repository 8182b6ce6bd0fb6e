"""Circles, memberships with roles, invite links and join requests."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from quanzi.accounts.models import validate_timezone


class Role(models.TextChoices):
    MEMBER = "member", _("Member")
    MODERATOR = "moderator", _("Moderator")
    ADMIN = "admin", _("Admin")
    OWNER = "owner", _("Owner")


ROLE_RANK = {Role.MEMBER: 10, Role.MODERATOR: 20, Role.ADMIN: 30, Role.OWNER: 40}


class Visibility(models.TextChoices):
    PUBLIC = "public", _("Public (listed)")
    PRIVATE = "private", _("Private (unlisted)")


class JoinMode(models.TextChoices):
    OPEN = "open", _("Anyone can join")
    INVITE = "invite", _("Invite link only")
    APPROVAL = "approval", _("Approval by an admin")


DEFAULT_WELCOME = "Welcome to {circle}, {name}! Please read the rules:\n\n{rules}"


class ExpiryAction(models.TextChoices):
    """What happens to a paid member whose paid-through date passes without renewal."""

    READ_ONLY = "read_only", _("Member becomes read-only")
    REMOVE = "remove", _("Member is removed")


class DmPolicy(models.TextChoices):
    MEMBERS = "members", _("Members may message each other")
    ADMINS = "admins", _("Members may message admins and moderators only")
    OFF = "off", _("Direct messages are off")


class Circle(models.Model):
    name = models.CharField(_("name"), max_length=80)
    slug = models.SlugField(_("slug"), max_length=64, unique=True, allow_unicode=False)
    description = models.TextField(_("description"), max_length=2000, blank=True)
    avatar = models.ImageField(_("avatar"), upload_to="circle-avatars/", blank=True)
    rules_text = models.TextField(_("rules"), max_length=5000, blank=True)
    visibility = models.CharField(
        _("visibility"), max_length=16, choices=Visibility.choices, default=Visibility.PUBLIC
    )
    join_mode = models.CharField(_("join mode"), max_length=16, choices=JoinMode.choices, default=JoinMode.OPEN)
    timezone = models.CharField(_("time zone"), max_length=64, default="UTC", validators=[validate_timezone])
    language = models.CharField(_("language"), max_length=10, choices=settings.LANGUAGES, default="en")
    welcome_template = models.TextField(_("welcome message"), max_length=2000, default=DEFAULT_WELCOME)
    main_group = models.OneToOneField(
        "chat.Group", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    channel_group = models.OneToOneField(
        "chat.Group", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    member_count = models.PositiveIntegerField(default=0)
    # Paid circles (quanzi.payments): prices are in this currency; a payment can be refunded for
    # refund_window_hours; expiry_action applies when a paid membership runs out.
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    refund_window_hours = models.PositiveIntegerField(_("refund window (hours)"), default=72)
    expiry_action = models.CharField(
        _("when a paid membership expires"), max_length=16, choices=ExpiryAction.choices,
        default=ExpiryAction.READ_ONLY,
    )
    renewal_reminder_days = models.PositiveIntegerField(_("renewal reminder (days before expiry)"), default=3)
    members_can_post = models.BooleanField(_("members may publish posts in the feed"), default=True)
    dm_policy = models.CharField(_("direct messages"), max_length=16, choices=DmPolicy.choices,
                                 default=DmPolicy.MEMBERS)
    upload_limit_mb = models.PositiveIntegerField(_("largest upload (MB)"), default=20)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.name


class MembershipStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    LEFT = "left", _("Left")
    KICKED = "kicked", _("Kicked")
    BANNED = "banned", _("Banned")


class Membership(models.Model):
    """One row per (circle, user), kept after leaving so bans and history survive."""

    circle = models.ForeignKey(Circle, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    status = models.CharField(max_length=16, choices=MembershipStatus.choices, default=MembershipStatus.ACTIVE)
    muted_until = models.DateTimeField(null=True, blank=True)
    mute_reason = models.CharField(max_length=500, blank=True)
    follows_channel = models.BooleanField(default=False)
    onboarding_done = models.BooleanField(default=False)
    invite = models.ForeignKey("Invite", null=True, blank=True, on_delete=models.SET_NULL, related_name="memberships")
    joined_at = models.DateTimeField(default=timezone.now)
    left_at = models.DateTimeField(null=True, blank=True)
    # Paid through this moment; null for free and lifetime memberships.
    paid_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["circle", "user"], name="uniq_membership")]
        indexes = [models.Index(fields=["circle", "status", "role"]), models.Index(fields=["user", "status"])]

    def __str__(self) -> str:
        return f"{self.user_id}@{self.circle_id} ({self.role}, {self.status})"

    @property
    def is_active(self) -> bool:
        return self.status == MembershipStatus.ACTIVE

    @property
    def rank(self) -> int:
        return ROLE_RANK[Role(self.role)]

    def is_muted(self, now=None) -> bool:
        return self.muted_until is not None and self.muted_until > (now or timezone.now())


def new_invite_code() -> str:
    return secrets.token_urlsafe(9)


class Invite(models.Model):
    circle = models.ForeignKey(Circle, on_delete=models.CASCADE, related_name="invites")
    code = models.CharField(max_length=32, unique=True, default=new_invite_code)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    max_uses = models.PositiveIntegerField(null=True, blank=True)
    uses = models.PositiveIntegerField(default=0)
    revoked_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.code

    def usable_reason(self, now=None) -> str | None:
        """None when usable, else the error code why not."""
        now = now or timezone.now()
        if self.revoked_at is not None:
            return "invite_revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "invite_expired"
        if self.max_uses is not None and self.uses >= self.max_uses:
            return "invite_used_up"
        return None


class JoinRequestStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    CANCELLED = "cancelled", _("Cancelled")


class JoinRequest(models.Model):
    circle = models.ForeignKey(Circle, on_delete=models.CASCADE, related_name="join_requests")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="join_requests")
    message = models.CharField(max_length=500, blank=True)
    invite = models.ForeignKey(Invite, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=16, choices=JoinRequestStatus.choices, default=JoinRequestStatus.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["circle", "user"],
                condition=models.Q(status="pending"),
                name="uniq_pending_join_request",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id}→{self.circle_id} {self.status}"
