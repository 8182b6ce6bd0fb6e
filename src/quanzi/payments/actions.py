"""The only writers of plans, orders, refunds and payouts; money moves only through ``ledger.services``.

Each action is one transaction: lock what it changes, check the rule from ``circles.rules``,
write, post to the ledger, record the audit row (management actions), emit the domain
event (published on commit). For the web screens and the API:

Plans (circle admins and the owner):
    ``do_create_plan(actor=, circle=, name=, kind=, amount=, currency=None, trial_days=0)``
    ``do_update_plan(actor=, circle=, plan_id=, name=…, amount=…, trial_days=…)``
    ``do_archive_plan(actor=, circle=, plan_id=)``
    ``do_update_payment_settings(actor=, circle=, currency=…, refund_window_hours=…,
    expiry_action=…, renewal_reminder_days=…)``
Paying (any signed-in user):
    ``do_create_order(user=, circle=, plan_id=, provider=, idempotency_key=, invite=None) -> Checkout``
    — send the payer to ``Checkout.checkout_url`` (empty for manual payments; a free plan just
    joins and ``Checkout.join`` says how). A repeated ``idempotency_key`` returns the first order.
Outcomes (called by ``payments.webhooks`` for providers, by admins for manual payments):
    ``do_mark_order_paid(order=, provider_ref="")``, ``do_close_order(order=, status=)``,
    ``do_confirm_manual_payment(actor=, order=)``
Wallet top-ups (any signed-in user; the money lands in their own ledger wallet):
    ``do_create_topup_order(user=, amount=, currency=, provider=, idempotency_key=) -> Checkout`` — an
    order with purpose ``wallet_topup`` (no circle, no plan) through the same providers and webhooks;
    paid: ``provider_clearing −A, wallet +A`` (key ``order-paid-<id>``, no platform fee). Manual
    top-ups are confirmed by instance staff. Not refundable here (wallet money leaves as deposits).
Refunds (the payer or circle admins, inside the refund window):
    ``do_refund_order(actor=, order=)``
Payouts: ``do_request_payout(actor=, circle=, amount=, note="")`` (the owner);
    ``do_mark_payout_paid(actor=, payout_id=, reference="")`` / ``do_reject_payout(actor=, payout_id=,
    reason="")`` (instance staff, ``user.is_staff``).
Scheduled work (``payments.tasks``): ``settle_order_revenue``, ``send_renewal_reminder``,
``expire_paid_membership`` — each re-checks the state when it runs, so a late or repeated run
changes nothing twice.

Ledger postings (A = amount, F = A × QUANZI_PLATFORM_FEE_BPS / 10000 rounded down):
payment ``provider_clearing −A, platform_fees +F, circle_pending +(A−F)`` (key
``order-paid-<id>``); settlement ``circle_pending → circle_available`` (``order-settle-<id>``);
refund = reversal of the payment (``order-refund-<id>``); payout request ``circle_available →
payouts_pending``; paid ``payouts_pending → provider_clearing[payout]``; rejected: back.
"""

from __future__ import annotations

import calendar
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from quanzi.circles import actions as circle_actions
from quanzi.circles import rules
from quanzi.circles.models import Circle, ExpiryAction, Invite, JoinMode, Membership, MembershipStatus
from quanzi.core import audit
from quanzi.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from quanzi.core.events import EventType, emit
from quanzi.core.ids import as_db_id
from quanzi.ledger import services as ledger
from quanzi.ledger.currencies import is_currency
from quanzi.ledger.models import AccountKind

from .models import (
    MAX_AMOUNT,
    MAX_TRIAL_DAYS,
    Order,
    OrderPurpose,
    OrderStatus,
    PayoutRequest,
    PayoutStatus,
    PlanKind,
    PricePlan,
)
from .providers import get_provider

logger = logging.getLogger(__name__)

MAX_ACTIVE_PLANS = 20
MAX_REFUND_WINDOW_HOURS = 24 * 30
MAX_REMINDER_DAYS = 60
PAYOUT_PROVIDER = "payout"  # the clearing account money leaves through when a payout is sent


def platform_fee(amount: int) -> int:
    """The platform's share of a payment, rounded down to a whole minor unit."""
    bps = min(max(int(settings.QUANZI_PLATFORM_FEE_BPS), 0), 10_000)
    return amount * bps // 10_000


def add_months(moment: datetime, months: int) -> datetime:
    """The same day ``months`` later, clamped to the month's last day (Jan 31 + 1 month = Feb 28/29)."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    return moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))


PERIOD_MONTHS = {PlanKind.MONTHLY: 1, PlanKind.YEARLY: 12}


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _membership(circle: Circle, user, *, lock: bool = False) -> Membership | None:
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    qs = Membership.objects.select_for_update() if lock else Membership.objects
    return qs.filter(circle_id=circle.id, user_id=user.id).first()


def _lock_circle(circle: Circle | int) -> Circle:
    circle_id = getattr(circle, "id", circle)
    return Circle.objects.select_for_update(of=("self",)).select_related("main_group").get(id=circle_id)


# --- plans --------------------------------------------------------------------------------


def _clean_plan_fields(circle: Circle, fields: dict, *, kind: str) -> dict:
    clean: dict = {}
    if "name" in fields:
        name = (fields["name"] or "").strip() if isinstance(fields["name"], str | type(None)) else ""
        if not name or len(name) > 80:
            raise InvalidInput(_("A plan name needs 1 to 80 characters."), code="invalid_name")
        clean["name"] = name
    if "amount" in fields:
        amount = fields["amount"]
        if not _is_int(amount):
            raise InvalidInput(_("The price is a whole number of minor units (e.g. fen)."), code="invalid_amount")
        if kind == PlanKind.FREE and amount != 0:
            raise InvalidInput(_("A free plan costs nothing."), code="invalid_amount")
        if kind != PlanKind.FREE and not 0 < amount <= MAX_AMOUNT:
            raise InvalidInput(
                _("The price must be more than zero and at most %(max)d.") % {"max": MAX_AMOUNT}, code="invalid_amount"
            )
        clean["amount"] = amount
    if "trial_days" in fields:
        trial = fields["trial_days"]
        if not _is_int(trial) or not 0 <= trial <= MAX_TRIAL_DAYS:
            raise InvalidInput(_("Trial days range from 0 to 365."), code="invalid_trial_days")
        if trial and kind not in PERIOD_MONTHS:
            raise InvalidInput(_("Only monthly and yearly plans have trial days."), code="invalid_trial_days")
        clean["trial_days"] = trial
    return clean


@transaction.atomic
def do_create_plan(
    *, actor, circle: Circle, name: str, kind: str, amount: int, currency: str | None = None, trial_days: int = 0
) -> PricePlan:
    circle = _lock_circle(circle)
    rules.check_manage_payments(_membership(circle, actor, lock=True))
    if kind not in PlanKind.values:
        raise InvalidInput(_("A plan is free, one_time, yearly or monthly."), code="invalid_kind")
    currency = circle.currency if currency is None else currency
    if not is_currency(currency):
        raise InvalidInput(_("Unknown or unsupported currency code."), code="invalid_currency")
    if currency != circle.currency:
        raise InvalidInput(
            _("Plans are priced in the circle's currency (%(currency)s).") % {"currency": circle.currency},
            code="currency_mismatch",
        )
    fields = _clean_plan_fields(circle, {"name": name, "amount": amount, "trial_days": trial_days}, kind=kind)
    if PricePlan.objects.filter(circle=circle, active=True).count() >= MAX_ACTIVE_PLANS:
        raise Conflict(_("A circle has at most %(n)d active plans.") % {"n": MAX_ACTIVE_PLANS}, code="too_many_plans")
    plan = PricePlan.objects.create(circle=circle, kind=kind, currency=currency, **fields)
    audit.record(circle=circle, actor=actor, action="plan.create", target_repr=plan.name,
                 data={"plan_id": plan.id, "kind": kind, "amount": plan.amount, "currency": currency})
    emit(EventType.PLAN_CREATED, circle=circle, actor_id=actor.id, data={"plan_id": plan.id},
         payload={"plan_id": plan.id})
    return plan


def _lock_plan(circle: Circle, plan_id: int) -> PricePlan:
    pid = as_db_id(plan_id)
    plan = PricePlan.objects.select_for_update().filter(id=pid, circle_id=circle.id).first() if pid else None
    if plan is None:
        raise NotFound(_("No such plan."), code="plan_not_found")
    return plan


@transaction.atomic
def do_update_plan(*, actor, circle: Circle, plan_id: int, **fields) -> PricePlan:
    """Rename, reprice or change the trial of a plan. Orders already made keep their price."""
    circle = _lock_circle(circle)
    rules.check_manage_payments(_membership(circle, actor, lock=True))
    plan = _lock_plan(circle, plan_id)
    unknown = set(fields) - {"name", "amount", "trial_days"}
    if unknown:
        raise InvalidInput(_("Only the name, price and trial days of a plan can change."), code="invalid_field")
    clean = _clean_plan_fields(circle, fields, kind=plan.kind)
    changes = {k: v for k, v in clean.items() if getattr(plan, k) != v}
    if not changes:
        return plan
    for key, value in changes.items():
        setattr(plan, key, value)
    plan.save(update_fields=[*changes, "updated_at"])
    audit.record(circle=circle, actor=actor, action="plan.update", target_repr=plan.name,
                 data={"plan_id": plan.id, "fields": sorted(changes)})
    emit(EventType.PLAN_UPDATED, circle=circle, actor_id=actor.id, data={"plan_id": plan.id},
         payload={"plan_id": plan.id, "fields": sorted(changes)})
    return plan


@transaction.atomic
def do_archive_plan(*, actor, circle: Circle, plan_id: int) -> PricePlan:
    """Stop offering a plan. Paid memberships bought with it run on until their date."""
    circle = _lock_circle(circle)
    rules.check_manage_payments(_membership(circle, actor, lock=True))
    plan = _lock_plan(circle, plan_id)
    if plan.active:
        plan.active = False
        plan.save(update_fields=["active", "updated_at"])
        audit.record(circle=circle, actor=actor, action="plan.archive", target_repr=plan.name,
                     data={"plan_id": plan.id})
        emit(EventType.PLAN_ARCHIVED, circle=circle, actor_id=actor.id, data={"plan_id": plan.id},
             payload={"plan_id": plan.id})
    return plan


@transaction.atomic
def do_update_payment_settings(*, actor, circle: Circle, **fields) -> Circle:
    """The circle's currency, refund window, expiry action and reminder lead time (admins)."""
    circle = _lock_circle(circle)
    rules.check_manage_payments(_membership(circle, actor, lock=True))
    clean: dict = {}
    if fields.get("currency") is not None:
        currency = fields["currency"]
        if not is_currency(currency):
            raise InvalidInput(_("Unknown or unsupported currency code."), code="invalid_currency")
        if currency != circle.currency and PricePlan.objects.filter(circle=circle, active=True).exclude(
            currency=currency
        ).exists():
            raise Conflict(_("Archive the plans priced in another currency first."), code="currency_mismatch")
        clean["currency"] = currency
    if fields.get("refund_window_hours") is not None:
        hours = fields["refund_window_hours"]
        if not _is_int(hours) or not 0 <= hours <= MAX_REFUND_WINDOW_HOURS:
            raise InvalidInput(_("The refund window is 0 to 720 hours."), code="invalid_refund_window")
        clean["refund_window_hours"] = hours
    if fields.get("expiry_action") is not None:
        if fields["expiry_action"] not in ExpiryAction.values:
            raise InvalidInput(_("On expiry a member becomes read_only or is removed (remove)."),
                               code="invalid_expiry_action")
        clean["expiry_action"] = fields["expiry_action"]
    if fields.get("renewal_reminder_days") is not None:
        days = fields["renewal_reminder_days"]
        if not _is_int(days) or not 0 <= days <= MAX_REMINDER_DAYS:
            raise InvalidInput(_("The reminder comes 0 to 60 days before expiry."), code="invalid_reminder_days")
        clean["renewal_reminder_days"] = days
    unknown = set(fields) - {"currency", "refund_window_hours", "expiry_action", "renewal_reminder_days"}
    if unknown:
        raise InvalidInput(_("Unknown payment setting."), code="invalid_field")
    changes = {k: v for k, v in clean.items() if getattr(circle, k) != v}
    if changes:
        for key, value in changes.items():
            setattr(circle, key, value)
        circle.save(update_fields=list(changes))
        audit.record(circle=circle, actor=actor, action="circle.payment_settings", target_repr=circle.name,
                     data={"fields": sorted(changes)})
        emit(EventType.CIRCLE_UPDATED, circle=circle, actor_id=actor.id, data={"fields": sorted(changes)},
             payload={"fields": sorted(changes)})
    return circle


# --- orders -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkout:
    """The result of choosing a plan: a pending order and where to pay it, or (free plan) a join."""

    order: Order | None = None
    checkout_url: str = ""
    join: circle_actions.JoinResult | None = None
    replayed: bool = False

    @property
    def status(self) -> str:
        if self.order is not None:
            return self.order.status
        return self.join.status if self.join else "joined"


def _clean_idempotency_key(key: object) -> str:
    if not isinstance(key, str) or not key.strip() or len(key) > 200 or not key.isascii() or not key.isprintable():
        raise InvalidInput(
            _("Send an Idempotency-Key of 1 to 200 visible ASCII characters."), code="idempotency_key_required"
        )
    return key.strip()


def _replay_order(user, key: str, *, circle: Circle, plan_id: object, provider: str) -> Order | None:
    order = Order.objects.filter(user_id=user.id, idempotency_key=key).first()
    if order is None:
        return None
    if (order.is_topup or order.circle_id != circle.id or order.plan_id != as_db_id(plan_id)
            or order.provider != provider):
        raise Conflict(_("This Idempotency-Key was already used for a different order."), code="idempotency_mismatch")
    return order


@transaction.atomic
def do_create_order(
    *, user, circle: Circle, plan_id: int, provider: str, idempotency_key: str, invite: Invite | None = None
) -> Checkout:
    """Start paying for a plan. Refused: banned users (``banned``), unknown or archived plans
    (``plan_not_found``), plans in another currency than the circle's (``currency_mismatch``),
    members who already have lifetime or free access (``already_member``). Active paid members
    may order again: that renews (extends ``paid_until``)."""
    key = _clean_idempotency_key(idempotency_key)
    provider_impl = get_provider(provider)
    replay = _replay_order(user, key, circle=circle, plan_id=plan_id, provider=provider)
    if replay is not None:
        return Checkout(order=replay, checkout_url=replay.checkout_url, replayed=True)
    membership = _membership(circle, user)
    if membership is not None and membership.status == MembershipStatus.BANNED:
        raise Forbidden(_("You are banned from this circle."), code="banned")
    pid = as_db_id(plan_id)
    plan = PricePlan.objects.filter(id=pid, circle_id=circle.id, active=True).first() if pid else None
    if plan is None:
        raise NotFound(_("No such plan."), code="plan_not_found")
    if plan.currency != circle.currency:
        raise InvalidInput(_("This plan's currency no longer matches the circle's."), code="currency_mismatch")
    active = rules.is_active(membership)
    if active and membership.paid_until is None:
        raise Conflict(_("You are already a member of this circle."), code="already_member")
    if invite is not None and (invite.circle_id != circle.id or invite.usable_reason() is not None):
        invite = None
    if plan.kind == PlanKind.FREE:
        return Checkout(join=circle_actions.do_join_circle(user=user, circle=circle, invite=invite))
    if not active and circle.join_mode == JoinMode.INVITE and invite is None:
        raise Forbidden(_("This circle can only be joined through an invite link."), code="invite_required")
    try:
        with transaction.atomic():
            order = Order.objects.create(
                user=user, circle=circle, plan=plan, invite=invite, amount=plan.amount, currency=plan.currency,
                provider=provider, idempotency_key=key,
            )
    except IntegrityError:  # the same key, committed by a concurrent request
        replay = _replay_order(user, key, circle=circle, plan_id=plan_id, provider=provider)
        if replay is None:
            raise
        return Checkout(order=replay, checkout_url=replay.checkout_url, replayed=True)
    order.checkout_url = provider_impl.create_checkout(order)
    order.save(update_fields=["checkout_url", "provider_ref"])
    emit(EventType.ORDER_CREATED, circle=circle, actor_id=user.id, target_user_id=user.id,
         data={"order": order.public_id, "plan_id": plan.id, "amount": order.amount, "currency": order.currency,
               "provider": provider},
         payload={"order": order.public_id, "status": order.status})
    return Checkout(order=order, checkout_url=order.checkout_url)


# --- wallet top-ups ------------------------------------------------------------------------


def _replay_topup(user, key: str, *, amount: int, currency: str, provider: str) -> Order | None:
    order = Order.objects.filter(user_id=user.id, idempotency_key=key).first()
    if order is None:
        return None
    if not order.is_topup or order.amount != amount or order.currency != currency or order.provider != provider:
        raise Conflict(_("This Idempotency-Key was already used for a different order."), code="idempotency_mismatch")
    return order


@transaction.atomic
def do_create_topup_order(*, user, amount: int, currency: str, provider: str, idempotency_key: str) -> Checkout:
    """Start putting money into the payer's own wallet (e.g. for challenge deposits).

    The order goes through the same providers, checkout pages and webhooks as a circle order;
    only what "paid" posts differs (``_mark_topup_paid``). A repeated key returns the first order.
    """
    if user is None or not getattr(user, "is_authenticated", False):
        raise Forbidden(_("Sign in to top up your wallet."), code="not_authenticated")
    key = _clean_idempotency_key(idempotency_key)
    if not _is_int(amount) or not 0 < amount <= MAX_AMOUNT:
        raise InvalidInput(
            _("A top-up is more than zero and at most %(max)d minor units.") % {"max": MAX_AMOUNT},
            code="invalid_amount",
        )
    if not isinstance(currency, str) or not is_currency(currency):
        raise InvalidInput(_("Unknown or unsupported currency code."), code="invalid_currency")
    provider_impl = get_provider(provider)
    replay = _replay_topup(user, key, amount=amount, currency=currency, provider=provider)
    if replay is not None:
        return Checkout(order=replay, checkout_url=replay.checkout_url, replayed=True)
    try:
        with transaction.atomic():
            order = Order.objects.create(
                purpose=OrderPurpose.WALLET_TOPUP, user=user, circle=None, plan=None, amount=amount,
                currency=currency, provider=provider, idempotency_key=key,
            )
    except IntegrityError:  # the same key, committed by a concurrent request
        replay = _replay_topup(user, key, amount=amount, currency=currency, provider=provider)
        if replay is None:
            raise
        return Checkout(order=replay, checkout_url=replay.checkout_url, replayed=True)
    order.checkout_url = provider_impl.create_checkout(order)
    order.save(update_fields=["checkout_url", "provider_ref"])
    emit(EventType.ORDER_CREATED, circle=None, actor_id=user.id, target_user_id=user.id,
         data={"order": order.public_id, "purpose": order.purpose, "amount": amount, "currency": currency,
               "provider": provider},
         payload={"order": order.public_id, "status": order.status})
    return Checkout(order=order, checkout_url=order.checkout_url)


def _mark_topup_paid(order: Order, provider_ref: str) -> Order:
    """The money of a top-up arrived: ``provider_clearing → wallet`` (no platform fee: it is the
    payer's own money). ``order`` is locked by the caller; the ledger key makes a replay a no-op."""
    wallet = ledger.get_account(AccountKind.WALLET, currency=order.currency, user=order.user)
    clearing = ledger.get_account(AccountKind.PROVIDER_CLEARING, currency=order.currency, provider=order.provider)
    order.payment_txn = ledger.post_transaction(
        kind="wallet.topup", legs=[(clearing, -order.amount), (wallet, order.amount)],
        idempotency_key=f"order-paid-{order.id}", memo=f"{order.public_id}: wallet top-up",
        metadata={"order": order.public_id, "user_id": order.user_id},
    )
    order.status = OrderStatus.PAID
    order.paid_at = timezone.now()
    order.provider_ref = (provider_ref or order.provider_ref)[:255]
    order.save(update_fields=["payment_txn", "status", "paid_at", "provider_ref"])
    emit(EventType.ORDER_PAID, circle=None, actor_id=order.user_id, target_user_id=order.user_id,
         data={"order": order.public_id, "purpose": order.purpose, "amount": order.amount,
               "currency": order.currency},
         payload={"order": order.public_id, "status": order.status})
    return order


def _lock_order(order: Order | int) -> Order:
    return Order.objects.select_for_update(of=("self",)).select_related("plan", "invite").get(
        id=getattr(order, "id", order)
    )


def _new_paid_until(
    order: Order, membership: Membership | None, now: datetime
) -> tuple[datetime | None, datetime | None]:
    """(previous paid-through date if this renews, the new one; None = lifetime)."""
    active = rules.is_active(membership)
    if active and membership.paid_until is None:
        return None, None  # already lifetime (or free): nothing to extend
    plan = order.plan
    renewing = active and membership.paid_until > now
    if plan.kind not in PERIOD_MONTHS:
        return (membership.paid_until if renewing else None), None
    start = membership.paid_until if renewing else now
    first_purchase = not Order.objects.filter(
        user_id=order.user_id, circle_id=order.circle_id, paid_at__isnull=False
    ).exclude(id=order.id).exists()
    trial = timedelta(days=plan.trial_days if first_purchase else 0)
    return (membership.paid_until if renewing else None), add_months(start, PERIOD_MONTHS[plan.kind]) + trial


@transaction.atomic
def do_mark_order_paid(*, order: Order, provider_ref: str = "") -> Order:
    """The provider (or an admin, for manual payments) says the money arrived: post it to the
    ledger and let the payer in until the paid-through date. Safe to call twice."""
    order = _lock_order(order)
    if order.status in (OrderStatus.PAID, OrderStatus.REFUNDED):
        return order
    if order.is_topup:
        return _mark_topup_paid(order, provider_ref)
    circle = _lock_circle(order.circle_id)
    user = order.user
    membership = Membership.objects.select_for_update().filter(circle=circle, user_id=order.user_id).first()
    now = timezone.now()
    fee = platform_fee(order.amount)
    legs = [(ledger.get_account(AccountKind.PROVIDER_CLEARING, currency=order.currency, provider=order.provider),
             -order.amount)]
    if fee:
        legs.append((ledger.get_account(AccountKind.PLATFORM_FEES, currency=order.currency), fee))
    if order.amount - fee:
        legs.append((ledger.get_account(AccountKind.CIRCLE_PENDING, currency=order.currency, circle=circle),
                     order.amount - fee))
    order.payment_txn = ledger.post_transaction(
        kind="order.payment", legs=legs, idempotency_key=f"order-paid-{order.id}",
        memo=f"{order.public_id}: {order.plan.name}"[:500],
        metadata={"order": order.public_id, "circle_id": circle.id, "user_id": order.user_id},
    )
    if membership is not None and membership.status == MembershipStatus.BANNED:
        # Banned after ordering: the money is recorded, the door stays shut; an admin refunds.
        logger.warning("order %s paid by a user banned from circle %s", order.public_id, circle.id)
    else:
        order.previous_paid_until, order.granted_until = _new_paid_until(order, membership, now)
        membership = circle_actions.grant_paid_membership(
            circle=circle, user=user, paid_until=order.granted_until, invite=order.invite
        )
        order.granted_membership = True
    order.status = OrderStatus.PAID
    order.paid_at = now
    order.refund_until = now + timedelta(hours=circle.refund_window_hours)
    order.provider_ref = (provider_ref or order.provider_ref)[:255]
    order.save()
    emit(EventType.ORDER_PAID, circle=circle, actor_id=order.user_id, target_user_id=order.user_id,
         data={"order": order.public_id, "amount": order.amount, "currency": order.currency,
               "paid_until": order.granted_until.isoformat() if order.granted_until else None},
         payload={"order": order.public_id, "status": order.status})
    from . import tasks

    tasks.schedule(tasks.settle_order_revenue, order.refund_until, order_id=order.id)
    if order.granted_membership and order.granted_until is not None:
        tasks.schedule_membership_tasks(membership, circle)
    return order


@transaction.atomic
def do_close_order(*, order: Order, status: str) -> Order:
    """The payer cancelled or the payment failed. Only a pending order closes; a paid one stays paid."""
    if status not in (OrderStatus.FAILED, OrderStatus.CANCELLED):
        raise InvalidInput(_("An order closes as failed or cancelled."), code="invalid_status")
    order = _lock_order(order)
    if order.status != OrderStatus.PENDING:
        return order
    order.status = status
    order.closed_at = timezone.now()
    order.save(update_fields=["status", "closed_at"])
    emit(EventType.ORDER_FAILED if status == OrderStatus.FAILED else EventType.ORDER_CANCELLED,
         circle=order.circle_id, actor_id=order.user_id, target_user_id=order.user_id,
         data={"order": order.public_id}, payload={"order": order.public_id, "status": status})
    return order


@transaction.atomic
def do_confirm_manual_payment(*, actor, order: Order) -> Order:
    """A circle admin received the bank transfer or cash for a manual order."""
    order = _lock_order(order)
    if order.is_topup:
        # No circle to ask: the instance's staff received the money for a wallet.
        rules.check_instance_staff(actor)
        circle = None
    else:
        circle = Circle.objects.get(id=order.circle_id)
        rules.check_manage_payments(_membership(circle, actor))
    if order.provider != "manual":
        raise InvalidInput(_("Only manual payments are confirmed by hand."), code="not_manual")
    if order.status == OrderStatus.PAID or order.status == OrderStatus.REFUNDED:
        raise Conflict(_("This order is already paid."), code="already_paid")
    if circle is None:
        logger.info("staff %s confirmed manual wallet top-up %s", actor.id, order.public_id)
        return do_mark_order_paid(order=order, provider_ref=f"manual-confirmed-by-{actor.id}")
    audit.record(circle=circle, actor=actor, action="order.confirm_manual", target_user=order.user,
                 data={"order": order.public_id, "amount": order.amount, "currency": order.currency})
    return do_mark_order_paid(order=order, provider_ref=f"manual-confirmed-by-{actor.id}")


@transaction.atomic
def do_refund_order(*, actor, order: Order, reason: str = "") -> Order:
    """Give the money back and undo what it bought: the payment's ledger transaction is reversed
    (the fee too), and the membership ends — or, for a renewal, loses the time it added."""
    order = _lock_order(order)
    if order.is_topup:
        raise Conflict(_("Wallet top-ups are not refunded; the money stays in your wallet."),
                       code="topup_not_refundable")
    circle = _lock_circle(order.circle_id)
    actor_membership = _membership(circle, actor, lock=True)
    now = timezone.now()
    is_payer = order.user_id == actor.id
    if not is_payer:
        rules.require_role(actor_membership, rules.Role.ADMIN)
    if order.status == OrderStatus.REFUNDED:
        raise Conflict(_("This order was already refunded."), code="already_refunded")
    if order.status != OrderStatus.PAID:
        raise Conflict(_("Only a paid order can be refunded."), code="not_paid")
    within = order.settled_at is None and order.refund_until is not None and now < order.refund_until
    rules.check_refund_order(actor_membership, is_payer=is_payer, within_window=within)
    refund_ref = get_provider_for_refund(order).refund(order)
    order.refund_txn = ledger.reverse_transaction(
        transaction=order.payment_txn, idempotency_key=f"order-refund-{order.id}", kind="order.refund",
        memo=f"refund {order.public_id}"[:500], metadata={"order": order.public_id, "refund_ref": refund_ref},
    )
    order.status = OrderStatus.REFUNDED
    order.refunded_at = now
    order.save(update_fields=["status", "refunded_at", "refund_txn"])
    if order.granted_membership:
        _take_back_membership(order, circle, now)
    audit.record(circle=circle, actor=actor, action="order.refund", target_user=order.user, reason=reason,
                 data={"order": order.public_id, "amount": order.amount, "currency": order.currency,
                       "by_payer": is_payer})
    emit(EventType.ORDER_REFUNDED, circle=circle, actor_id=actor.id, target_user_id=order.user_id,
         data={"order": order.public_id, "amount": order.amount, "currency": order.currency},
         payload={"order": order.public_id, "status": order.status})
    return order


def get_provider_for_refund(order: Order):
    """The order's provider even if the instance no longer offers it for new payments."""
    from .providers import PROVIDERS

    return PROVIDERS[order.provider]()


def _take_back_membership(order: Order, circle: Circle, now: datetime) -> None:
    """Undo what the refunded order added to the membership, and no more: later paid periods stand."""
    membership = Membership.objects.select_for_update().filter(circle=circle, user_id=order.user_id).first()
    if not rules.is_active(membership):
        return
    previous = order.previous_paid_until
    if membership.paid_until is None:  # lifetime now
        if order.granted_until is not None:
            return  # a later lifetime purchase stands on its own
        if previous is not None and previous > now:  # this order was an upgrade to lifetime
            circle_actions.grant_paid_membership(circle=circle, user=order.user, paid_until=previous)
            return
    elif order.granted_until is not None:
        added = order.granted_until - (previous if previous is not None else order.paid_at)
        shortened = membership.paid_until - added
        if shortened > now:
            circle_actions.grant_paid_membership(circle=circle, user=order.user, paid_until=shortened)
            return
    circle_actions.end_paid_membership(circle=circle, user=order.user, reason="refund")


# --- payouts ------------------------------------------------------------------------------


@transaction.atomic
def do_request_payout(*, actor, circle: Circle, amount: int, note: str = "") -> PayoutRequest:
    """The owner asks for part of the circle's available revenue: it moves to payouts_pending."""
    circle = _lock_circle(circle)
    rules.check_request_payout(_membership(circle, actor, lock=True))
    if not _is_int(amount) or amount <= 0:
        raise InvalidInput(_("The payout amount is a whole number of minor units above zero."), code="invalid_amount")
    available = ledger.get_account(AccountKind.CIRCLE_AVAILABLE, currency=circle.currency, circle=circle)
    if amount > ledger.balance(available):
        raise Conflict(_("That is more than the circle's available revenue."), code="insufficient_funds")
    payout = PayoutRequest.objects.create(
        circle=circle, requested_by=actor, amount=amount, currency=circle.currency, note=(note or "").strip()[:500]
    )
    pending = ledger.get_account(AccountKind.PAYOUTS_PENDING, currency=circle.currency, circle=circle)
    payout.request_txn = ledger.post_transaction(
        kind="payout.request", legs=[(available, -amount), (pending, amount)],
        idempotency_key=f"payout-request-{payout.id}", memo=f"payout {payout.id}",
        metadata={"payout_id": payout.id, "circle_id": circle.id},
    )
    payout.save(update_fields=["request_txn"])
    audit.record(circle=circle, actor=actor, action="payout.request", target_repr=f"{amount} {circle.currency}",
                 data={"payout_id": payout.id, "amount": amount, "currency": circle.currency})
    emit(EventType.PAYOUT_REQUESTED, circle=circle, actor_id=actor.id, target_user_id=actor.id,
         data={"payout_id": payout.id, "amount": amount, "currency": circle.currency},
         payload={"payout_id": payout.id, "status": payout.status})
    return payout


def _decide_payout(*, actor, payout_id: int, paid: bool, text: str) -> PayoutRequest:
    rules.check_instance_staff(actor)
    pid = as_db_id(payout_id)
    payout = PayoutRequest.objects.select_for_update().filter(id=pid).first() if pid else None
    if payout is None:
        raise NotFound(_("No such payout."), code="payout_not_found")
    if payout.status != PayoutStatus.REQUESTED:
        raise Conflict(_("This payout was already decided."), code="payout_decided")
    circle = payout.circle
    pending = ledger.get_account(AccountKind.PAYOUTS_PENDING, currency=payout.currency, circle=circle)
    if paid:
        target = ledger.get_account(AccountKind.PROVIDER_CLEARING, currency=payout.currency, provider=PAYOUT_PROVIDER)
    else:
        target = ledger.get_account(AccountKind.CIRCLE_AVAILABLE, currency=payout.currency, circle=circle)
    payout.decision_txn = ledger.post_transaction(
        kind="payout.paid" if paid else "payout.rejected", legs=[(pending, -payout.amount), (target, payout.amount)],
        idempotency_key=f"payout-{'paid' if paid else 'rejected'}-{payout.id}", memo=f"payout {payout.id}",
        metadata={"payout_id": payout.id, "circle_id": circle.id},
    )
    payout.status = PayoutStatus.PAID if paid else PayoutStatus.REJECTED
    payout.decided_by = actor
    payout.decided_at = timezone.now()
    if paid:
        payout.reference = (text or "").strip()[:200]
    payout.save(update_fields=["decision_txn", "status", "decided_by", "decided_at", "reference"])
    audit.record(circle=circle, actor=actor, action="payout.paid" if paid else "payout.reject",
                 target_user=payout.requested_by, reason="" if paid else text,
                 data={"payout_id": payout.id, "amount": payout.amount, "currency": payout.currency})
    emit(EventType.PAYOUT_PAID if paid else EventType.PAYOUT_REJECTED, circle=circle, actor_id=actor.id,
         target_user_id=payout.requested_by_id, data={"payout_id": payout.id, "amount": payout.amount},
         payload={"payout_id": payout.id, "status": payout.status})
    return payout


@transaction.atomic
def do_mark_payout_paid(*, actor, payout_id: int, reference: str = "") -> PayoutRequest:
    """Instance staff sent the money (``reference``: the bank transfer's reference)."""
    return _decide_payout(actor=actor, payout_id=payout_id, paid=True, text=reference)


@transaction.atomic
def do_reject_payout(*, actor, payout_id: int, reason: str = "") -> PayoutRequest:
    """Instance staff refuse the payout: the money returns to the circle's available revenue."""
    return _decide_payout(actor=actor, payout_id=payout_id, paid=False, text=reason)
