"""Reads for payments, shared by the API and the web screens: plans, orders, wallet, revenue."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC
from zoneinfo import ZoneInfo

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from quanzi.core.errors import NotFound
from quanzi.ledger.models import Account, AccountKind, Entry

from .models import Order, OrderPurpose, OrderStatus, PayoutRequest, PayoutStatus, PlanKind, PricePlan


def requires_payment(circle) -> bool:
    """Joining needs a paid order: the circle has an active non-free plan and no active free one."""
    kinds = set(PricePlan.objects.filter(circle_id=circle.id, active=True).values_list("kind", flat=True))
    return bool(kinds - {PlanKind.FREE}) and PlanKind.FREE not in kinds


def circle_plans(circle, *, include_archived: bool = False) -> QuerySet[PricePlan]:
    qs = PricePlan.objects.filter(circle_id=circle.id)
    return qs if include_archived else qs.filter(active=True)


def access_plan(circle, plan_id: int | str) -> PricePlan:
    """A plan of this circle (active or archived); other circles' ids answer like missing ones."""
    from quanzi.core.ids import as_db_id

    pid = as_db_id(plan_id)
    plan = PricePlan.objects.filter(id=pid, circle_id=circle.id).first() if pid else None
    if plan is None:
        raise NotFound(_("No such plan."), code="plan_not_found")
    return plan


def my_orders(user) -> QuerySet[Order]:
    """The caller's circle orders (wallet top-ups are listed with the wallet: ``my_topups``)."""
    orders = Order.objects.filter(user=user, purpose=OrderPurpose.MEMBERSHIP)
    return orders.select_related("circle", "plan").order_by("-id")


def my_topups(user) -> QuerySet[Order]:
    """The caller's wallet top-up orders, newest first."""
    return Order.objects.filter(user=user, purpose=OrderPurpose.WALLET_TOPUP).order_by("-id")


def access_order(user, public_id: str) -> Order:
    """The caller's own order, or — for a circle admin — an order of their circle; else 404.

    Circle admins see their circle's orders so they can confirm manual payments and refund.
    """
    from quanzi.circles import rules
    from quanzi.circles.models import Membership, Role

    order = Order.objects.select_related("circle", "plan", "user").filter(public_id=str(public_id)[:64]).first()
    if order is None:
        raise NotFound(_("No such order."), code="order_not_found")
    if order.user_id == user.id:
        return order
    if order.is_topup:
        # No circle: only the payer, and instance staff (who confirm manual top-ups), see it.
        if getattr(user, "is_staff", False) and getattr(user, "is_active", False):
            return order
        raise NotFound(_("No such order."), code="order_not_found")
    membership = Membership.objects.filter(circle_id=order.circle_id, user_id=user.id).first()
    if rules.has_role(membership, Role.ADMIN):
        return order
    raise NotFound(_("No such order."), code="order_not_found")


def circle_payouts(circle) -> QuerySet[PayoutRequest]:
    return PayoutRequest.objects.filter(circle_id=circle.id).select_related("requested_by", "decided_by")


def circle_balances(circle, currency: str | None = None) -> dict[str, int]:
    """The circle's ledger balances by kind, in its currency (accounts not yet used count as 0)."""
    currency = currency or circle.currency
    kinds = (AccountKind.CIRCLE_PENDING, AccountKind.CIRCLE_AVAILABLE, AccountKind.PAYOUTS_PENDING)
    found = dict(
        Account.objects.filter(circle_id=circle.id, currency=currency, kind__in=kinds).values_list("kind", "balance")
    )
    return {kind: int(found.get(kind, 0)) for kind in kinds}


@dataclass
class RevenueMonth:
    month: str  # YYYY-MM in the circle's time zone
    gross: int = 0
    fees: int = 0
    refunds: int = 0

    @property
    def net(self) -> int:
        return self.gross - self.fees - self.refunds


@dataclass
class Revenue:
    currency: str
    gross: int = 0
    fees: int = 0
    refunds: int = 0
    pending: int = 0
    available: int = 0
    payouts_pending: int = 0
    paid_out: int = 0
    months: list[RevenueMonth] = field(default_factory=list)

    @property
    def net(self) -> int:
        return self.gross - self.fees - self.refunds


def circle_revenue(circle) -> Revenue:
    """Gross takings, platform fees kept, refunds (what payers got back) and net, by month in the
    circle's time zone, plus what is still in the refund window, available, and being paid out.

    Built from the orders' own ledger transactions, so the figures are the ledger's figures.
    """
    currency = circle.currency
    try:
        zone = ZoneInfo(circle.timezone)
    except (KeyError, ValueError):
        zone = UTC
    revenue = Revenue(currency=currency)
    months: dict[str, RevenueMonth] = defaultdict(lambda: RevenueMonth(month=""))
    orders = Order.objects.filter(circle_id=circle.id, currency=currency, paid_at__isnull=False).values_list(
        "amount", "paid_at", "refunded_at", "payment_txn_id"
    )
    fee_by_txn = dict(
        Entry.objects.filter(
            transaction__in=Order.objects.filter(circle_id=circle.id, payment_txn__isnull=False).values("payment_txn"),
            account__kind=AccountKind.PLATFORM_FEES,
        ).values_list("transaction_id", "amount")
    )
    for amount, paid_at, refunded_at, txn_id in orders:
        fee = int(fee_by_txn.get(txn_id, 0))
        key = paid_at.astimezone(zone).strftime("%Y-%m")
        month = months[key]
        month.month = key
        month.gross += amount
        month.fees += fee
        revenue.gross += amount
        revenue.fees += fee
        if refunded_at is not None:
            # Refunds are what the payer got back; the platform returns its fee with it, so the
            # fee leaves "fees" in the refund's month. Net stays the ledger's: gross − fees − refunds.
            refund_key = refunded_at.astimezone(zone).strftime("%Y-%m")
            refund_month = months[refund_key]
            refund_month.month = refund_key
            refund_month.refunds += amount
            refund_month.fees -= fee
            revenue.refunds += amount
            revenue.fees -= fee
    balances = circle_balances(circle, currency)
    revenue.pending = balances[AccountKind.CIRCLE_PENDING]
    revenue.available = balances[AccountKind.CIRCLE_AVAILABLE]
    revenue.payouts_pending = balances[AccountKind.PAYOUTS_PENDING]
    revenue.paid_out = sum(
        PayoutRequest.objects.filter(circle_id=circle.id, currency=currency, status=PayoutStatus.PAID).values_list(
            "amount", flat=True
        )
    )
    revenue.months = sorted(months.values(), key=lambda m: m.month, reverse=True)
    return revenue


def wallet(user, currency: str) -> tuple[int, QuerySet[Entry]]:
    """A member's wallet balance in ``currency`` and its entries, newest first."""
    account = Account.objects.filter(kind=AccountKind.WALLET, user_id=user.id, currency=currency).first()
    if account is None:
        return 0, Entry.objects.none()
    entries = Entry.objects.filter(account=account).select_related("transaction").order_by("-id")
    return int(account.balance), entries


def wallet_currencies(user) -> list[str]:
    return list(
        Account.objects.filter(kind=AccountKind.WALLET, user_id=user.id).order_by("currency").values_list(
            "currency", flat=True
        )
    )


def paid_orders_count(user, circle) -> int:
    return Order.objects.filter(
        user_id=user.id, circle_id=circle.id, status__in=[OrderStatus.PAID, OrderStatus.REFUNDED]
    ).count()
