"""The stored settlement plan of a challenge: one row per challenge (unique), one line per participant.

Written once, in one transaction, before any money moves (``settlement._create_plan``); the
per-member payments then only mark lines paid. Imported by ``checkins.models`` so Django
registers these models with the app.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class SettlementStatus(models.TextChoices):
    PLANNED = "planned", _("Paying out")
    DONE = "done", _("Settled")


class Settlement(models.Model):
    challenge = models.OneToOneField("checkins.Challenge", on_delete=models.PROTECT, related_name="settlement")
    status = models.CharField(max_length=16, choices=SettlementStatus.choices, default=SettlementStatus.PLANNED)
    currency = models.CharField(max_length=3)
    rule = models.CharField(max_length=24)  # settlement.RULE_*
    share_mode = models.CharField(max_length=16)
    fee_bps = models.PositiveIntegerField(default=0)
    days_to_complete = models.PositiveIntegerField(default=0)
    participants = models.PositiveIntegerField(default=0)
    completers = models.PositiveIntegerField(default=0)
    pool = models.BigIntegerField(default=0)  # Σ deposits
    forfeited = models.BigIntegerField(default=0)
    fee = models.BigIntegerField(default=0)
    distributable = models.BigIntegerField(default=0)
    leftover = models.BigIntegerField(default=0)  # minor units handed out one each
    fee_txn = models.ForeignKey("ledger.Transaction", null=True, blank=True, on_delete=models.PROTECT,
                                related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(pool__gte=0, forfeited__gte=0, fee__gte=0, distributable__gte=0, leftover__gte=0),
                name="checkins_settlement_nonneg",
            ),
            models.CheckConstraint(condition=models.Q(distributable=models.F("forfeited") - models.F("fee")),
                                   name="checkins_settlement_distributable"),
        ]

    def __str__(self) -> str:
        return f"settlement of challenge {self.challenge_id} ({self.status})"


class SettlementLine(models.Model):
    settlement = models.ForeignKey(Settlement, on_delete=models.PROTECT, related_name="lines")
    participant = models.OneToOneField("checkins.Participant", on_delete=models.PROTECT,
                                       related_name="settlement_line")
    deposit = models.BigIntegerField(default=0)
    days = models.PositiveIntegerField(default=0)
    completed = models.BooleanField(default=False)
    refund = models.BigIntegerField(default=0)
    share = models.BigIntegerField(default=0)
    bonus = models.PositiveSmallIntegerField(default=0)  # a leftover minor unit (0 or 1)
    amount = models.BigIntegerField(default=0)  # refund + share + bonus
    txn = models.ForeignKey("ledger.Transaction", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(deposit__gte=0, refund__gte=0, share__gte=0, bonus__lte=1),
                name="checkins_settlement_line_nonneg",
            ),
            models.CheckConstraint(
                condition=models.Q(amount=models.F("refund") + models.F("share") + models.F("bonus")),
                name="checkins_settlement_line_sum",
            ),
        ]

    def __str__(self) -> str:
        return f"line {self.participant_id}: {self.amount}"

    @property
    def gain(self) -> int:
        """Share of the forfeits, leftover unit included."""
        return self.share + self.bonus
