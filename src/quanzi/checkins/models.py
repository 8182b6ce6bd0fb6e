"""Check-in challenges: the rules, who takes part, one check-in per member per scheduled day.

Days are *local dates in the circle's time zone*. A window that crosses midnight (22:00–02:00)
belongs to the scheduled day on which it opened, so a check-in at 01:30 on Tuesday counts for
Monday. See docs/checkins.md.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# Weekday bits: Monday = bit 0 … Sunday = bit 6 (date.weekday()); 127 = every day.
EVERY_DAY = 0b1111111


class ShareMode(models.TextChoices):
    EVEN = "even", _("Evenly among completers")
    PROPORTIONAL = "proportional", _("In proportion to days checked in")


class ChallengeStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    OPEN = "open", _("Open for joining")
    RUNNING = "running", _("Running")
    ENDED = "ended", _("Ended")
    SETTLING = "settling", _("Settling")
    SETTLED = "settled", _("Settled")


class Outcome(models.TextChoices):
    PENDING = "pending", _("Pending")
    COMPLETED = "completed", _("Completed")
    FAILED = "failed", _("Failed")


class Challenge(models.Model):
    circle = models.ForeignKey("circles.Circle", on_delete=models.CASCADE, related_name="challenges")
    title = models.CharField(_("title"), max_length=120)
    description = models.TextField(_("description"), max_length=5000, blank=True)
    start_date = models.DateField(_("first day"))
    end_date = models.DateField(_("last day"))
    weekdays = models.PositiveSmallIntegerField(_("scheduled weekdays"), default=EVERY_DAY)
    window_start = models.TimeField(_("window opens"))
    window_end = models.TimeField(_("window closes"))
    require_min_chars = models.PositiveIntegerField(_("at least this many characters"), default=0)
    require_image = models.BooleanField(_("an image is required"), default=False)
    require_voice = models.BooleanField(_("a voice note is required"), default=False)
    makeups_allowed = models.PositiveIntegerField(_("make-up check-ins allowed"), default=0)
    days_to_complete = models.PositiveIntegerField(_("days needed to complete"))
    join_deadline = models.DateTimeField(_("join deadline"), null=True, blank=True)
    deposit_amount = models.BigIntegerField(_("deposit (minor units)"), default=0)
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    share_mode = models.CharField(_("forfeited deposits are shared"), max_length=16, choices=ShareMode.choices,
                                  default=ShareMode.EVEN)
    organiser_fee_bps = models.PositiveIntegerField(_("organiser fee (basis points)"), default=0)
    status = models.CharField(_("status"), max_length=16, choices=ChallengeStatus.choices,
                              default=ChallengeStatus.OPEN)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    # Next window start a reminder task is scheduled for (informational; the task itself is idempotent).
    next_reminder_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-start_date", "-id"]
        indexes = [models.Index(fields=["circle", "status"])]
        constraints = [
            models.CheckConstraint(condition=models.Q(end_date__gte=models.F("start_date")),
                                   name="checkins_challenge_dates"),
            models.CheckConstraint(condition=models.Q(deposit_amount__gte=0), name="checkins_deposit_nonneg"),
            models.CheckConstraint(condition=models.Q(organiser_fee_bps__lte=10000), name="checkins_fee_bps"),
            models.CheckConstraint(condition=models.Q(weekdays__gte=1, weekdays__lte=EVERY_DAY),
                                   name="checkins_weekdays"),
        ]

    def __str__(self) -> str:
        return self.title


class Participant(models.Model):
    challenge = models.ForeignKey(Challenge, on_delete=models.CASCADE, related_name="participants")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="challenge_entries")
    joined_at = models.DateTimeField(default=timezone.now)
    deposit_paid = models.BigIntegerField(default=0)
    deposit_txn = models.ForeignKey("ledger.Transaction", null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    current_streak = models.PositiveIntegerField(default=0)
    longest_streak = models.PositiveIntegerField(default=0)
    total_checkins = models.PositiveIntegerField(default=0)
    makeups_used = models.PositiveIntegerField(default=0)
    last_checkin_day = models.DateField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.PENDING)
    settled_amount = models.BigIntegerField(null=True, blank=True)
    settled_txn = models.ForeignKey("ledger.Transaction", null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["challenge", "user"], name="uniq_checkins_participant")]

    def __str__(self) -> str:
        return f"{self.user_id} in challenge {self.challenge_id}"


class CheckIn(models.Model):
    """One per participant per scheduled day: the UNIQUE (participant, day) constraint is the rule."""

    challenge = models.ForeignKey(Challenge, on_delete=models.CASCADE, related_name="checkins")
    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="checkins")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    created_at = models.DateTimeField(default=timezone.now)
    text = models.TextField(max_length=5000, blank=True)
    # Files uploaded through quanzi.archive (content-addressed); the archive's attached_kind is "checkin".
    image = models.ForeignKey("archive.CircleFile", null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    voice = models.ForeignKey("archive.CircleFile", null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    is_makeup = models.BooleanField(default=False)
    like_count = models.PositiveIntegerField(default=0)
    comment_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["participant", "day"], name="uniq_checkin_per_day")]
        indexes = [
            # Daily board: who checked in first on a day.
            models.Index(fields=["challenge", "day", "created_at", "id"], name="checkins_board_idx"),
            # Challenge feed, newest first.
            models.Index(fields=["challenge", "-id"], name="checkins_feed_idx"),
        ]

    def __str__(self) -> str:
        return f"check-in {self.participant_id} {self.day}"


class CheckInLike(models.Model):
    checkin = models.ForeignKey(CheckIn, on_delete=models.CASCADE, related_name="likes")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["checkin", "user"], name="uniq_checkin_like")]

    def __str__(self) -> str:
        return f"like {self.user_id} on {self.checkin_id}"


class CheckInComment(models.Model):
    checkin = models.ForeignKey(CheckIn, on_delete=models.CASCADE, related_name="comments")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    text = models.TextField(max_length=2000)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["checkin", "id"])]

    def __str__(self) -> str:
        return f"comment {self.pk} on {self.checkin_id}"


class ReminderRun(models.Model):
    """Reminders for one (challenge, day) were sent: a duplicate task run finds this row and sends nothing."""

    challenge = models.ForeignKey(Challenge, on_delete=models.CASCADE, related_name="reminder_runs")
    day = models.DateField()
    sent = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["challenge", "day"], name="uniq_checkin_reminder_day")]

    def __str__(self) -> str:
        return f"reminders {self.challenge_id} {self.day}"


# Deposit settlement's own models (plan and lines), registered with this app (settlement work).
from .settlement_models import Settlement, SettlementLine  # noqa: E402, F401
