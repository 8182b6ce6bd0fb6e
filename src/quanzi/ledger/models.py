"""Double-entry ledger: accounts, transactions and their entries (integer minor units).

Only ``quanzi.ledger.services`` writes these rows. Entries and transactions are immutable
once written (corrections are reversals), which the models refuse at the ORM level and
the database backs with CHECK / UNIQUE constraints that work on SQLite and PostgreSQL.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from quanzi.core.errors import Conflict

from .currencies import CURRENCIES, DEFAULT_CURRENCY


class AccountKind(models.TextChoices):
    WALLET = "wallet", _("Member wallet")
    CIRCLE_PENDING = "circle_pending", _("Circle revenue in its refund window")
    CIRCLE_AVAILABLE = "circle_available", _("Circle revenue available for payout")
    PAYOUTS_PENDING = "payouts_pending", _("Payouts requested, not yet sent")
    PLATFORM_FEES = "platform_fees", _("Platform fees")
    PROVIDER_CLEARING = "provider_clearing", _("Payment provider clearing")
    DEPOSITS_HELD = "deposits_held", _("Deposits held")
    REFUNDS = "refunds", _("Refunds")


# Money that came in from (or went out to) the outside world is the only balance that may
# go below zero: its negative balance is exactly what the provider owes us / we were paid.
NEGATIVE_KINDS = frozenset({AccountKind.PROVIDER_CLEARING})


class ImmutableQuerySet(models.QuerySet):
    """Bulk ``update()`` / ``delete()`` would bypass the per-object refusals below."""

    def update(self, **kwargs):
        raise Conflict(f"{self.model.__name__} rows are immutable", code="ledger_immutable")

    def delete(self):
        raise Conflict(f"{self.model.__name__} rows are immutable", code="ledger_immutable")


class ImmutableModel(models.Model):
    """A row that can be inserted once and never changed or deleted through the ORM."""

    objects = ImmutableQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise Conflict(f"{type(self).__name__} {self.pk} is immutable; post a reversal", code="ledger_immutable")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise Conflict(f"{type(self).__name__} {self.pk} is immutable; post a reversal", code="ledger_immutable")


class Account(models.Model):
    """One per (kind, user, circle, provider, currency); ``key`` makes that unique portably
    (a UNIQUE over nullable columns treats NULLs as distinct on both databases).

    ``balance`` and ``entry_count`` cache the sum and number of the account's entries; the
    ledger services update them with ``F()`` in the posting's own transaction and
    ``verify_balances()`` checks them against the entries.
    """

    key = models.CharField(max_length=160, unique=True, editable=False)
    kind = models.CharField(_("kind"), max_length=32, choices=AccountKind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_accounts"
    )
    circle = models.ForeignKey(
        "circles.Circle", null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_accounts"
    )
    provider = models.CharField(_("provider"), max_length=32, blank=True, default="")
    currency = models.CharField(_("currency"), max_length=3, default=DEFAULT_CURRENCY)
    allow_negative = models.BooleanField(_("may go negative"), default=False)
    balance = models.BigIntegerField(_("balance (minor units)"), default=0)
    entry_count = models.BigIntegerField(_("entries"), default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(allow_negative=True) | models.Q(balance__gte=0),
                name="ledger_account_not_negative",
            ),
            models.CheckConstraint(condition=models.Q(currency__in=CURRENCIES), name="ledger_account_currency"),
            models.CheckConstraint(condition=models.Q(entry_count__gte=0), name="ledger_account_entry_count"),
        ]
        verbose_name = _("ledger account")
        verbose_name_plural = _("ledger accounts")

    def __str__(self) -> str:
        return f"{self.kind}#{self.pk} ({self.currency})"

    def save(self, *args, **kwargs) -> None:
        # The cached balance moves only with entries (``services`` updates it with F() in the
        # posting's transaction); a save() of a loaded object could write a stale or invented one.
        if not self._state.adding:
            raise Conflict(f"Ledger account {self.pk} changes only through ledger postings", code="ledger_immutable")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise Conflict(f"Ledger account {self.pk} cannot be deleted", code="ledger_immutable")


class Transaction(ImmutableModel):
    """A set of entries that sum to zero, posted once per ``idempotency_key``.

    ``reverses`` is one-to-one so the database itself refuses a second reversal.
    """

    kind = models.CharField(_("kind"), max_length=64)
    idempotency_key = models.CharField(_("idempotency key"), max_length=200, unique=True)
    memo = models.CharField(_("memo"), max_length=500, blank=True)
    reverses = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversal")
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=~models.Q(idempotency_key=""), name="ledger_txn_key_not_empty"),
        ]
        verbose_name = _("ledger transaction")
        verbose_name_plural = _("ledger transactions")

    def __str__(self) -> str:
        return f"{self.kind}#{self.pk}"


class Entry(ImmutableModel):
    """One leg of a transaction: a signed, non-zero amount on one account."""

    transaction = models.ForeignKey(Transaction, on_delete=models.PROTECT, related_name="entries")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="entries")
    amount = models.BigIntegerField(_("amount (minor units)"))

    class Meta:
        constraints = [
            models.CheckConstraint(condition=~models.Q(amount=0), name="ledger_entry_amount_not_zero"),
            models.UniqueConstraint(fields=["transaction", "account"], name="ledger_entry_one_leg_per_account"),
        ]
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")

    def __str__(self) -> str:
        return f"{self.amount:+d} on account {self.account_id}"
