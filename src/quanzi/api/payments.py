"""Money: price plans, orders and refunds, the wallet, circle revenue and payouts.

Each endpoint: access helper (a circle or order the caller may not see answers 404) →
action (which checks the rule from ``circles.rules``) → serialise. Money-moving POSTs need
an ``Idempotency-Key`` header: replaying a key returns the first answer and writes nothing;
the same key with different input is refused (409 ``idempotency_mismatch``).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Header, Query, Router, Schema, Status

from quanzi.circles import actions as circle_actions
from quanzi.circles import rules
from quanzi.circles.access import access_circle
from quanzi.circles.models import Circle
from quanzi.core.errors import Conflict, InvalidInput, NotFound
from quanzi.core.ids import as_db_id
from quanzi.ledger.currencies import is_currency
from quanzi.payments import actions, selectors
from quanzi.payments.models import IdempotentReply, Order, PayoutRequest, PricePlan
from quanzi.payments.providers import enabled_providers

from .auth import current_user
from .pagination import paginate
from .schemas import Id, PageParams, UserBrief, errors_for
from .serialize import user_brief

router = Router(tags=["payments"])

IDEMPOTENCY_DOC = "Required. Replaying a key returns the first answer and moves no money again."
_KEY_RE = re.compile(r"[\x21-\x7e]{1,200}")


# --- schemas ------------------------------------------------------------------------------


class PlanOut(Schema):
    id: int
    name: str
    kind: str = Field(description="`free`, `one_time` (lifetime), `yearly` or `monthly`.")
    amount: int = Field(description="In minor units (fen, cents).")
    currency: str
    trial_days: int
    active: bool


class PlanList(Schema):
    items: list[PlanOut]
    currency: str
    requires_payment: bool = Field(description="Joining needs a paid order.")
    providers: list[str] = Field(description="Payment providers this server offers.")


class PlanCreate(Schema):
    name: str
    kind: str
    amount: int = 0
    currency: str | None = Field(None, description="Defaults to the circle's currency (the only one allowed).")
    trial_days: int = 0


class PlanPatch(Schema):
    name: str | None = None
    amount: int | None = None
    trial_days: int | None = None


class OrderIn(Schema):
    plan_id: Id
    provider: str = "sandbox"
    invite_code: str | None = Field(None, description="For circles joined through invite links.")


class OrderOut(Schema):
    public_id: str
    purpose: str = Field("membership", description="`membership` (a circle's plan) or `wallet_topup`.")
    circle_id: int | None = Field(None, description="None for wallet top-ups.")
    circle_slug: str | None = None
    plan_id: int | None = None
    plan_name: str | None = None
    user: UserBrief | None = None
    amount: int
    currency: str
    provider: str
    status: str = Field(description="`pending`, `paid`, `failed`, `cancelled` or `refunded`.")
    checkout_url: str | None = None
    created_at: datetime
    paid_at: datetime | None = None
    refund_until: datetime | None = None
    refunded_at: datetime | None = None
    paid_until: datetime | None = Field(None, description="The membership's paid-through date this order set.")


class OrderPage(Schema):
    items: list[OrderOut]
    total: int
    limit: int
    offset: int


class CheckoutOut(Schema):
    status: str = Field(description="The order's status, or `joined` / `requested` for a free plan.")
    order: OrderOut | None = None
    checkout_url: str | None = Field(None, description="Send the payer here (none for manual payments).")


class TopupIn(Schema):
    amount: int = Field(description="In minor units (fen, cents), more than zero.")
    currency: str = "CNY"
    provider: str = "sandbox"


class RefundIn(Schema):
    reason: str = ""


class WalletEntryOut(Schema):
    id: int
    amount: int
    kind: str
    memo: str
    created_at: datetime


class WalletOut(Schema):
    currency: str
    balance: int
    currencies: list[str]
    items: list[WalletEntryOut]
    total: int
    limit: int
    offset: int


class RevenueMonthOut(Schema):
    month: str = Field(description="YYYY-MM in the circle's time zone.")
    gross: int
    fees: int
    refunds: int
    net: int


class RevenueOut(Schema):
    currency: str
    gross: int
    fees: int
    refunds: int = Field(description="Refunded payments, less the platform fee given back with them.")
    net: int
    pending: int = Field(description="Still inside the refund window.")
    available: int = Field(description="Can be paid out.")
    payouts_pending: int
    paid_out: int
    months: list[RevenueMonthOut]


class PayoutIn(Schema):
    amount: int
    note: str = ""


class PayoutOut(Schema):
    id: int
    circle_id: int
    amount: int
    currency: str
    status: str
    note: str
    reference: str
    requested_by: UserBrief | None = None
    created_at: datetime
    decided_at: datetime | None = None


class PayoutPage(Schema):
    items: list[PayoutOut]
    total: int
    limit: int
    offset: int


class PayoutPaidIn(Schema):
    reference: str = ""


class PayoutRejectIn(Schema):
    reason: str = ""


class PaymentSettingsOut(Schema):
    currency: str
    refund_window_hours: int
    expiry_action: str = Field(description="`read_only` or `remove`.")
    renewal_reminder_days: int


class PaymentSettingsPatch(Schema):
    currency: str | None = None
    refund_window_hours: int | None = None
    expiry_action: str | None = None
    renewal_reminder_days: int | None = None


# --- serialisers --------------------------------------------------------------------------


def plan_out(plan: PricePlan) -> dict[str, Any]:
    return {"id": plan.id, "name": plan.name, "kind": plan.kind, "amount": plan.amount, "currency": plan.currency,
            "trial_days": plan.trial_days, "active": plan.active}


def order_out(order: Order) -> dict[str, Any]:
    return {
        "public_id": order.public_id,
        "purpose": order.purpose,
        "circle_id": order.circle_id,
        "circle_slug": order.circle.slug if order.circle_id else None,
        "plan_id": order.plan_id,
        "plan_name": order.plan.name if order.plan_id else None,
        "user": user_brief(order.user),
        "amount": order.amount,
        "currency": order.currency,
        "provider": order.provider,
        "status": order.status,
        "checkout_url": order.checkout_url or None,
        "created_at": order.created_at,
        "paid_at": order.paid_at,
        "refund_until": order.refund_until,
        "refunded_at": order.refunded_at,
        "paid_until": order.granted_until,
    }


def payout_out(payout: PayoutRequest) -> dict[str, Any]:
    return {
        "id": payout.id, "circle_id": payout.circle_id, "amount": payout.amount, "currency": payout.currency,
        "status": payout.status, "note": payout.note, "reference": payout.reference,
        "requested_by": user_brief(payout.requested_by), "created_at": payout.created_at,
        "decided_at": payout.decided_at,
    }


def settings_out(circle: Circle) -> dict[str, Any]:
    return {"currency": circle.currency, "refund_window_hours": circle.refund_window_hours,
            "expiry_action": circle.expiry_action, "renewal_reminder_days": circle.renewal_reminder_days}


def _fresh_order(order_id: int) -> dict[str, Any]:
    return order_out(Order.objects.select_related("circle", "plan", "user").get(id=order_id))


# --- idempotency --------------------------------------------------------------------------


def idempotent(
    request: HttpRequest, key: str | None, operation: str, payload: Any, run: Callable[[], tuple[int, dict]]
) -> Status:
    """Run a money-moving operation once per (caller, Idempotency-Key); replay the stored answer after.

    The answer is stored in the operation's own transaction, so either both the effect and
    the answer are recorded or neither is. A concurrent duplicate loses on the unique key
    and gets the winner's answer.
    """
    user = current_user(request)
    if key is None or not _KEY_RE.fullmatch(key):
        raise InvalidInput(
            _("Send an Idempotency-Key header of 1 to 200 visible ASCII characters."), code="idempotency_key_required"
        )
    fingerprint = hashlib.sha256(
        json.dumps([operation, payload], sort_keys=True, cls=DjangoJSONEncoder).encode()
    ).hexdigest()

    def replay(reply: IdempotentReply) -> Status:
        if reply.fingerprint != fingerprint:
            raise Conflict(_("This Idempotency-Key was already used for a different request."),
                           code="idempotency_mismatch")
        return Status(reply.status, reply.body)

    stored = IdempotentReply.objects.filter(user=user, key=key).first()
    if stored is not None:
        return replay(stored)
    try:
        with transaction.atomic():
            status, body = run()
            body = json.loads(json.dumps(body, cls=DjangoJSONEncoder))
            IdempotentReply.objects.create(user=user, key=key, fingerprint=fingerprint, status=status, body=body)
    except IntegrityError:
        stored = IdempotentReply.objects.filter(user=user, key=key).first()
        if stored is None:
            raise
        return replay(stored)
    return Status(status, body)


IdempotencyKey = Header(None, alias="Idempotency-Key", description=IDEMPOTENCY_DOC)


def member_circle(request: HttpRequest, slug: str):
    circle, membership = access_circle(slug, current_user(request), require_member=True)
    return circle, membership


# --- plans and payment settings -----------------------------------------------------------


@router.get("/circles/{slug}/plans", response=errors_for({200: PlanList}))
def list_plans(request: HttpRequest, slug: str, include_archived: bool = False):
    """The circle's prices (for everyone who can see the circle). Admins may include archived plans."""
    circle, membership = access_circle(slug, current_user(request))
    if include_archived:
        rules.check_manage_payments(membership)
    plans = selectors.circle_plans(circle, include_archived=include_archived)
    return {"items": [plan_out(p) for p in plans], "currency": circle.currency,
            "requires_payment": selectors.requires_payment(circle), "providers": enabled_providers()}


@router.post("/circles/{slug}/plans", response=errors_for({201: PlanOut}))
def create_plan(request: HttpRequest, slug: str, payload: PlanCreate):
    """Admins: add a plan. Errors: `invalid_amount`, `currency_mismatch`, `invalid_kind`, `invalid_trial_days`."""
    circle, _m = member_circle(request, slug)
    plan = actions.do_create_plan(actor=current_user(request), circle=circle, **payload.dict())
    return Status(201, plan_out(plan))


@router.patch("/circles/{slug}/plans/{plan_id}", response=errors_for({200: PlanOut}))
def update_plan(request: HttpRequest, slug: str, plan_id: Id, payload: PlanPatch):
    """Admins: rename or reprice a plan (orders already made keep their price)."""
    circle, _m = member_circle(request, slug)
    plan = actions.do_update_plan(actor=current_user(request), circle=circle, plan_id=plan_id,
                                  **payload.dict(exclude_unset=True, exclude_none=True))
    return plan_out(plan)


@router.delete("/circles/{slug}/plans/{plan_id}", response=errors_for({200: PlanOut}))
def archive_plan(request: HttpRequest, slug: str, plan_id: Id):
    """Admins: stop offering a plan (it stays on record for the orders made with it)."""
    circle, _m = member_circle(request, slug)
    return plan_out(actions.do_archive_plan(actor=current_user(request), circle=circle, plan_id=plan_id))


@router.get("/circles/{slug}/payment-settings", response=errors_for({200: PaymentSettingsOut}))
def get_payment_settings(request: HttpRequest, slug: str):
    circle, membership = member_circle(request, slug)
    rules.check_manage_payments(membership)
    return settings_out(circle)


@router.patch("/circles/{slug}/payment-settings", response=errors_for({200: PaymentSettingsOut}))
def update_payment_settings(request: HttpRequest, slug: str, payload: PaymentSettingsPatch):
    """Admins: currency, refund window (hours), what expiry does (`read_only` / `remove`), reminder days."""
    circle, _m = member_circle(request, slug)
    circle = actions.do_update_payment_settings(
        actor=current_user(request), circle=circle, **payload.dict(exclude_unset=True, exclude_none=True)
    )
    return settings_out(circle)


# --- orders -------------------------------------------------------------------------------


def _order_target(request: HttpRequest, slug: str, invite_code: str | None):
    """The circle to pay for: visible to the caller, or reached through a valid invite to it."""
    user = current_user(request)
    if invite_code:
        invite = circle_actions.access_invite(invite_code)
        if invite.circle.slug != slug and str(invite.circle_id) != slug:
            raise NotFound(_("No such circle."), code="circle_not_found")
        if invite.usable_reason() is not None:  # a dead invite opens no private circle
            circle, _membership = access_circle(slug, user)
            return circle, None
        return invite.circle, invite
    circle, _membership = access_circle(slug, user)
    return circle, None


@router.post("/circles/{slug}/orders", response=errors_for({200: CheckoutOut, 201: CheckoutOut}))
def create_order(request: HttpRequest, slug: str, payload: OrderIn, idempotency_key: str | None = IdempotencyKey):
    """Order a plan: the answer has the order and `checkout_url` to send the payer to. A free plan joins at
    once. Errors: `plan_not_found`, `banned`, `already_member`, `currency_mismatch`, `unknown_provider`."""
    user = current_user(request)
    circle, invite = _order_target(request, slug, payload.invite_code)

    def run() -> tuple[int, dict]:
        checkout = actions.do_create_order(
            user=user, circle=circle, plan_id=payload.plan_id, provider=payload.provider,
            idempotency_key=idempotency_key, invite=invite,
        )
        if checkout.order is None:
            return 200, {"status": checkout.status, "order": None, "checkout_url": None}
        order = _fresh_order(checkout.order.id)
        return (200 if checkout.replayed else 201), {"status": order["status"], "order": order,
                                                     "checkout_url": order["checkout_url"]}

    return idempotent(request, idempotency_key, f"order:{circle.id}", payload.dict(), run)


@router.get("/orders", response=errors_for({200: OrderPage}))
def list_my_orders(request: HttpRequest, page: Query[PageParams]):
    """Your orders, newest first."""
    return paginate(selectors.my_orders(current_user(request)).select_related("user"), page, order_out)


@router.get("/orders/{public_id}", response=errors_for({200: OrderOut}))
def get_order(request: HttpRequest, public_id: str):
    """One of your orders (circle admins also see their circle's orders)."""
    return order_out(selectors.access_order(current_user(request), public_id))


@router.post("/orders/{public_id}/refund", response=errors_for({200: OrderOut}))
def refund_order(
    request: HttpRequest, public_id: str, payload: RefundIn | None = None, idempotency_key: str | None = IdempotencyKey
):
    """Refund a payment inside its refund window (the payer, or circle admins): the membership ends.
    Errors: `already_refunded`, `refund_window_passed`, `not_paid`."""
    user = current_user(request)
    order = selectors.access_order(user, public_id)
    reason = payload.reason if payload else ""

    def run() -> tuple[int, dict]:
        actions.do_refund_order(actor=user, order=order, reason=reason)
        return 200, _fresh_order(order.id)

    return idempotent(request, idempotency_key, f"refund:{order.id}", {"reason": reason}, run)


@router.post("/orders/{public_id}/confirm", response=errors_for({200: OrderOut}))
def confirm_manual_order(request: HttpRequest, public_id: str, idempotency_key: str | None = IdempotencyKey):
    """Circle admins: the bank transfer or cash for a manual order arrived. Errors: `not_manual`, `already_paid`."""
    user = current_user(request)
    order = selectors.access_order(user, public_id)

    def run() -> tuple[int, dict]:
        actions.do_confirm_manual_payment(actor=user, order=order)
        return 200, _fresh_order(order.id)

    return idempotent(request, idempotency_key, f"confirm:{order.id}", {}, run)


# --- wallet and revenue -------------------------------------------------------------------


@router.get("/me/wallet", response=errors_for({200: WalletOut}))
def my_wallet(request: HttpRequest, page: Query[PageParams], currency: str = "CNY"):
    """Your wallet's balance and history in one currency (minor units)."""
    user = current_user(request)
    if not is_currency(currency):
        raise InvalidInput(_("Unknown or unsupported currency code."), code="invalid_currency")
    balance, entries = selectors.wallet(user, currency)

    def entry_out(entry) -> dict:
        return {"id": entry.id, "amount": entry.amount, "kind": entry.transaction.kind, "memo": entry.transaction.memo,
                "created_at": entry.transaction.created_at}

    return paginate(entries, page, entry_out, currency=currency, balance=balance,
                    currencies=selectors.wallet_currencies(user))


@router.post("/me/wallet/topups", response=errors_for({200: CheckoutOut, 201: CheckoutOut}))
def create_topup(request: HttpRequest, payload: TopupIn, idempotency_key: str | None = IdempotencyKey):
    """Put money into your wallet (it pays challenge deposits): the answer has the order and
    `checkout_url`; the provider's paid webhook credits the wallet once. Manual top-ups wait for
    instance staff. Errors: `invalid_amount`, `invalid_currency`, `unknown_provider`, `idempotency_mismatch`."""
    user = current_user(request)

    def run() -> tuple[int, dict]:
        checkout = actions.do_create_topup_order(
            user=user, amount=payload.amount, currency=payload.currency, provider=payload.provider,
            idempotency_key=idempotency_key,
        )
        order = _fresh_order(checkout.order.id)
        return (200 if checkout.replayed else 201), {"status": order["status"], "order": order,
                                                     "checkout_url": order["checkout_url"]}

    return idempotent(request, idempotency_key, "wallet-topup", payload.dict(), run)


@router.get("/circles/{slug}/revenue", response=errors_for({200: RevenueOut}))
def circle_revenue(request: HttpRequest, slug: str):
    """Admins: gross, platform fees, refunds and net, by month in the circle's time zone; pending and available."""
    circle, membership = member_circle(request, slug)
    rules.check_manage_payments(membership)
    revenue = selectors.circle_revenue(circle)
    return {
        "currency": revenue.currency, "gross": revenue.gross, "fees": revenue.fees, "refunds": revenue.refunds,
        "net": revenue.net, "pending": revenue.pending, "available": revenue.available,
        "payouts_pending": revenue.payouts_pending, "paid_out": revenue.paid_out,
        "months": [{"month": m.month, "gross": m.gross, "fees": m.fees, "refunds": m.refunds, "net": m.net}
                   for m in revenue.months],
    }


# --- payouts ------------------------------------------------------------------------------


@router.get("/circles/{slug}/payouts", response=errors_for({200: PayoutPage}))
def list_payouts(request: HttpRequest, slug: str, page: Query[PageParams]):
    """Admins: the circle's payout requests, newest first."""
    circle, membership = member_circle(request, slug)
    rules.check_manage_payments(membership)
    return paginate(selectors.circle_payouts(circle), page, payout_out)


@router.post("/circles/{slug}/payouts", response=errors_for({201: PayoutOut}))
def request_payout(request: HttpRequest, slug: str, payload: PayoutIn, idempotency_key: str | None = IdempotencyKey):
    """The owner: ask for (part of) the available revenue. Errors: `insufficient_funds`, `invalid_amount`."""
    user = current_user(request)
    circle, _m = member_circle(request, slug)

    def run() -> tuple[int, dict]:
        payout = actions.do_request_payout(actor=user, circle=circle, amount=payload.amount, note=payload.note)
        return 201, payout_out(payout)

    return idempotent(request, idempotency_key, f"payout:{circle.id}", payload.dict(), run)


def _decide_payout(request: HttpRequest, payout_id: int, key: str | None, *, paid: bool, text: str) -> Status:
    user = current_user(request)
    rules.check_instance_staff(user)  # before the lookup: others can't probe payout ids
    if as_db_id(payout_id) is None or not PayoutRequest.objects.filter(id=payout_id).exists():
        raise NotFound(_("No such payout."), code="payout_not_found")

    def run() -> tuple[int, dict]:
        if paid:
            payout = actions.do_mark_payout_paid(actor=user, payout_id=payout_id, reference=text)
        else:
            payout = actions.do_reject_payout(actor=user, payout_id=payout_id, reason=text)
        return 200, payout_out(payout)

    return idempotent(request, key, f"payout-{'paid' if paid else 'reject'}:{payout_id}", {"text": text}, run)


@router.post("/payouts/{payout_id}/paid", response=errors_for({200: PayoutOut}))
def mark_payout_paid(
    request: HttpRequest, payout_id: Id, payload: PayoutPaidIn | None = None,
    idempotency_key: str | None = IdempotencyKey,
):
    """Instance staff: the money was sent (`reference`: the transfer's reference)."""
    return _decide_payout(request, payout_id, idempotency_key, paid=True, text=payload.reference if payload else "")


@router.post("/payouts/{payout_id}/reject", response=errors_for({200: PayoutOut}))
def reject_payout(
    request: HttpRequest, payout_id: Id, payload: PayoutRejectIn | None = None,
    idempotency_key: str | None = IdempotencyKey,
):
    """Instance staff: refuse the payout; the money returns to the circle's available revenue."""
    return _decide_payout(request, payout_id, idempotency_key, paid=False, text=payload.reason if payload else "")
