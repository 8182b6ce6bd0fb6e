"""Price plans, orders, processed webhooks, payout requests and idempotent API replies.

Amounts are integers in minor units (fen, cents) with an ISO currency code. These rows
describe money; the money itself lives in the ledger (``quanzi.ledger``), written only by
``ledger.services`` from ``payments.actions``.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class PlanKind(models.TextChoices):
    FREE = "free", _("Free")
    ONE_TIME = "one_time", _("One-time (lifetime)")
    YEARLY = "yearly", _("Yearly")
    MONTHLY = "monthly", _("Monthly")


MAX_TRIAL_DAYS = 365
# 100 million units (1,000,000.00 CNY): a sanity bound so a typo can't create an absurd price.
MAX_AMOUNT = 100_000_000


class PricePlan(models.Model):
    """What joining a circle costs. A circle with an active non-free plan (and no active free
    one) is paid: joining needs a paid order."""

    circle = models.ForeignKey("circles.Circle", on_delete=models.CASCADE, related_name="price_plans")
    name = models.CharField(_("name"), max_length=80)
    kind = models.CharField(_("kind"), max_length=16, choices=PlanKind.choices)
    amount = models.BigIntegerField(_("amount (minor units)"), default=0)
    currency = models.CharField(_("currency"), max_length=3)
    trial_days = models.PositiveIntegerField(_("trial days"), default=0)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["amount", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(kind="free", amount=0) | (~models.Q(kind="free") & models.Q(amount__gt=0))),
                name="payments_plan_amount_matches_kind",
            ),
            models.CheckConstraint(condition=models.Q(trial_days__lte=MAX_TRIAL_DAYS), name="payments_plan_trial"),
        ]
        indexes = [models.Index(fields=["circle", "active"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind}, {self.amount} {self.currency})"

    @property
    def is_free(self) -> bool:
        return self.kind == PlanKind.FREE


class OrderStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    PAID = "paid", _("Paid")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")
    REFUNDED = "refunded", _("Refunded")


class OrderPurpose(models.TextChoices):
    MEMBERSHIP = "membership", _("Circle membership")
    WALLET_TOPUP = "wallet_topup", _("Wallet top-up")


def new_public_id() -> str:
    return "ord_" + secrets.token_urlsafe(12)


class Order(models.Model):
    """One attempt to pay: for a circle's plan (``membership``), or money into the payer's own
    wallet (``wallet_topup``: no circle, no plan). ``public_id`` is what URLs and providers see."""

    public_id = models.CharField(max_length=32, unique=True, default=new_public_id, editable=False)
    purpose = models.CharField(max_length=16, choices=OrderPurpose.choices, default=OrderPurpose.MEMBERSHIP)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders")
    circle = models.ForeignKey("circles.Circle", null=True, blank=True, on_delete=models.PROTECT,
                               related_name="orders")
    plan = models.ForeignKey(PricePlan, null=True, blank=True, on_delete=models.PROTECT, related_name="orders")
    invite = models.ForeignKey("circles.Invite", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    amount = models.BigIntegerField(_("amount (minor units)"))
    currency = models.CharField(_("currency"), max_length=3)
    provider = models.CharField(_("provider"), max_length=32)
    status = models.CharField(max_length=16, choices=OrderStatus.choices, default=OrderStatus.PENDING)
    provider_ref = models.CharField(max_length=255, blank=True)
    checkout_url = models.CharField(max_length=2000, blank=True)
    idempotency_key = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    refunded_at = models.DateTimeField(null=True, blank=True)
    refund_until = models.DateTimeField(null=True, blank=True)  # paid_at + the circle's window at that time
    settled_at = models.DateTimeField(null=True, blank=True)  # revenue moved from pending to available
    closed_at = models.DateTimeField(null=True, blank=True)  # failed or cancelled
    # What the payment did to the membership, so a refund can undo exactly that.
    previous_paid_until = models.DateTimeField(null=True, blank=True)
    granted_until = models.DateTimeField(null=True, blank=True)
    granted_membership = models.BooleanField(default=False)
    payment_txn = models.ForeignKey(
        "ledger.Transaction", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    refund_txn = models.ForeignKey(
        "ledger.Transaction", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "idempotency_key"], name="payments_order_idempotency"),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="payments_order_amount_positive"),
            models.CheckConstraint(
                condition=(
                    models.Q(purpose="membership", circle__isnull=False, plan__isnull=False)
                    | models.Q(purpose="wallet_topup", circle__isnull=True, plan__isnull=True)
                ),
                name="payments_order_purpose_fields",
            ),
        ]
        indexes = [models.Index(fields=["circle", "status"]), models.Index(fields=["user", "-id"])]

    def __str__(self) -> str:
        return f"{self.public_id} ({self.status}, {self.amount} {self.currency})"

    @property
    def is_topup(self) -> bool:
        return self.purpose == OrderPurpose.WALLET_TOPUP


class ProcessedWebhook(models.Model):
    """A provider event we acted on: the unique key makes duplicate deliveries no-ops."""

    provider = models.CharField(max_length=32)
    event_id = models.CharField(max_length=255)
    event_type = models.CharField(max_length=64)
    order = models.ForeignKey(Order, null=True, blank=True, on_delete=models.PROTECT, related_name="webhooks")
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["provider", "event_id"], name="payments_webhook_once")]

    def __str__(self) -> str:
        return f"{self.provider}:{self.event_id}"


class PayoutStatus(models.TextChoices):
    REQUESTED = "requested", _("Requested")
    PAID = "paid", _("Paid")
    REJECTED = "rejected", _("Rejected")


class PayoutRequest(models.Model):
    """An owner asks for the circle's available revenue; an instance admin pays or rejects."""

    circle = models.ForeignKey("circles.Circle", on_delete=models.PROTECT, related_name="payout_requests")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    amount = models.BigIntegerField(_("amount (minor units)"))
    currency = models.CharField(_("currency"), max_length=3)
    status = models.CharField(max_length=16, choices=PayoutStatus.choices, default=PayoutStatus.REQUESTED)
    note = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    reference = models.CharField(_("transfer reference"), max_length=200, blank=True)
    request_txn = models.ForeignKey(
        "ledger.Transaction", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decision_txn = models.ForeignKey(
        "ledger.Transaction", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-id"]
        constraints = [models.CheckConstraint(condition=models.Q(amount__gt=0), name="payments_payout_positive")]

    def __str__(self) -> str:
        return f"payout {self.pk} ({self.status}, {self.amount} {self.currency})"


class IdempotentReply(models.Model):
    """The first answer to a money-moving API request, replayed for the same Idempotency-Key."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    fingerprint = models.CharField(max_length=64)  # of the operation and its input
    status = models.PositiveSmallIntegerField()
    body = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="payments_idempotent_reply_once")]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.key}"
