"""The core flow through the sandbox: plan → order → checkout page → signed webhook → membership,
then refunds, renewals and the join gate. Every money movement is checked against the ledger."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from quanzi.circles import actions as circle_actions
from quanzi.circles.models import Membership, MembershipStatus
from quanzi.core.errors import Conflict, Forbidden
from quanzi.core.models import AuditEntry, DomainEvent
from quanzi.ledger import services as ledger
from quanzi.ledger.models import Account, AccountKind, Transaction
from quanzi.payments import actions
from quanzi.payments.models import Order, OrderStatus, PlanKind, ProcessedWebhook

from .conftest import deliver, order_for, sandbox_event

pytestmark = pytest.mark.django_db


def balances(circle, currency="CNY") -> dict[str, int]:
    """Every account the flow touches, by kind (0 when never used)."""
    accounts = {
        "clearing": Account.objects.filter(kind=AccountKind.PROVIDER_CLEARING, provider="sandbox", currency=currency),
        "fees": Account.objects.filter(kind=AccountKind.PLATFORM_FEES, currency=currency),
        "pending": Account.objects.filter(kind=AccountKind.CIRCLE_PENDING, circle=circle, currency=currency),
        "available": Account.objects.filter(kind=AccountKind.CIRCLE_AVAILABLE, circle=circle, currency=currency),
    }
    return {name: sum(qs.values_list("balance", flat=True)) for name, qs in accounts.items()}


def pay_via_checkout_page(user, order) -> Client:
    client = Client()
    client.force_login(user)
    page = client.get(order.checkout_url)
    assert page.status_code == 200 and b'value="pay"' in page.content
    response = client.post(order.checkout_url, {"outcome": "pay"})
    assert response.status_code == 302
    return client


def test_paid_circle_refuses_a_direct_join(circle, monthly, payer):
    with pytest.raises(Forbidden) as error:
        circle_actions.do_join_circle(user=payer, circle=circle)
    assert error.value.code == "payment_required"
    assert not Membership.objects.filter(circle=circle, user=payer).exists()


def test_sandbox_checkout_end_to_end(circle, monthly, payer):
    order = order_for(payer, circle, monthly)
    assert order.status == OrderStatus.PENDING
    assert order.checkout_url == f"/payments/sandbox/{order.public_id}/"
    before = timezone.now()

    pay_via_checkout_page(payer, order)

    order.refresh_from_db()
    assert order.status == OrderStatus.PAID and order.paid_at >= before
    membership = Membership.objects.get(circle=circle, user=payer)
    assert membership.status == MembershipStatus.ACTIVE
    assert membership.paid_until == actions.add_months(order.paid_at, 1) == order.granted_until
    assert order.refund_until == order.paid_at + timedelta(hours=72)
    # 19.99: the fee is 5% rounded down (99.95 → 99 fen), the circle keeps the rest.
    assert balances(circle) == {"clearing": -1999, "fees": 99, "pending": 1900, "available": 0}
    txn = order.payment_txn
    assert txn.idempotency_key == f"order-paid-{order.id}"
    assert sorted(txn.entries.values_list("amount", flat=True)) == [-1999, 99, 1900]
    assert ProcessedWebhook.objects.filter(order=order).count() == 1
    assert ledger.verify_balances() == []
    assert DomainEvent.objects.filter(type="order.paid", target_user=payer).count() == 1
    assert DomainEvent.objects.filter(type="member.joined", target_user=payer).count() == 1


@pytest.mark.parametrize(("amount", "bps", "fee"), [(1999, 500, 99), (19, 500, 0), (100, 0, 0), (1000, 10_000, 1000)])
def test_fee_rounding(settings, circle, owner, payer, amount, bps, fee):
    settings.QUANZI_PLATFORM_FEE_BPS = bps
    plan = actions.do_create_plan(actor=owner, circle=circle, name="Once", kind=PlanKind.ONE_TIME, amount=amount)
    order = order_for(payer, circle, plan)
    assert deliver(sandbox_event(order)).status_code == 200
    assert balances(circle) == {"clearing": -amount, "fees": fee, "pending": amount - fee, "available": 0}
    assert Membership.objects.get(circle=circle, user=payer).paid_until is None  # lifetime


@pytest.mark.parametrize(("outcome", "status"), [("cancel", OrderStatus.CANCELLED), ("fail", OrderStatus.FAILED)])
def test_cancel_and_fail_buttons(circle, monthly, payer, outcome, status):
    order = order_for(payer, circle, monthly)
    client = Client()
    client.force_login(payer)
    assert client.post(order.checkout_url, {"outcome": outcome}).status_code == 302
    order.refresh_from_db()
    assert order.status == status
    assert not Membership.objects.filter(circle=circle, user=payer).exists()
    assert not Transaction.objects.exists()


def test_someone_elses_checkout_page_is_a_404(circle, member, monthly, payer):
    order = order_for(payer, circle, monthly)
    client = Client()
    client.force_login(member)
    assert client.get(order.checkout_url).status_code == 404
    assert client.post(order.checkout_url, {"outcome": "pay"}).status_code == 404
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING


def test_trial_days_are_added_to_the_first_period_only(circle, owner, payer):
    plan = actions.do_create_plan(actor=owner, circle=circle, name="Yearly", kind=PlanKind.YEARLY, amount=9900,
                                  trial_days=7)
    first = order_for(payer, circle, plan, key="a")
    deliver(sandbox_event(first))
    first.refresh_from_db()
    assert first.granted_until == actions.add_months(first.paid_at, 12) + timedelta(days=7)
    second = order_for(payer, circle, plan, key="b")
    deliver(sandbox_event(second))
    second.refresh_from_db()
    assert second.previous_paid_until == first.granted_until
    assert second.granted_until == actions.add_months(first.granted_until, 12)  # no second trial


def test_renewal_extends_paid_until_from_the_current_end(circle, monthly, payer):
    first = order_for(payer, circle, monthly, key="first")
    deliver(sandbox_event(first))
    paid_until = Membership.objects.get(circle=circle, user=payer).paid_until
    renewal = order_for(payer, circle, monthly, key="renew")
    deliver(sandbox_event(renewal))
    membership = Membership.objects.get(circle=circle, user=payer)
    assert membership.paid_until == actions.add_months(paid_until, 1)
    assert Membership.objects.filter(circle=circle, user=payer).count() == 1
    assert DomainEvent.objects.filter(type="member.joined", target_user=payer).count() == 1  # no second welcome
    assert balances(circle)["pending"] == 2 * 1900


def test_add_months_clamps_to_the_end_of_the_month():
    jan31 = timezone.now().replace(year=2027, month=1, day=31)
    assert actions.add_months(jan31, 1).date().isoformat() == "2027-02-28"
    assert actions.add_months(jan31, 12).date().isoformat() == "2028-01-31"
    assert actions.add_months(jan31.replace(year=2028), 1).date().isoformat() == "2028-02-29"


# --- refunds ------------------------------------------------------------------------------


@pytest.fixture
def paid_order(circle, monthly, payer):
    order = order_for(payer, circle, monthly)
    assert deliver(sandbox_event(order)).status_code == 200
    order.refresh_from_db()
    return order


def test_refund_within_the_window_reverses_the_ledger_and_ends_the_membership(circle, payer, paid_order):
    refunded = actions.do_refund_order(actor=payer, order=paid_order)
    assert refunded.status == OrderStatus.REFUNDED and refunded.refunded_at is not None
    assert refunded.refund_txn.reverses_id == paid_order.payment_txn_id
    assert balances(circle) == {"clearing": 0, "fees": 0, "pending": 0, "available": 0}
    membership = Membership.objects.get(circle=circle, user=payer)
    assert membership.status == MembershipStatus.LEFT and membership.paid_until is None
    assert AuditEntry.objects.filter(action="order.refund", target_user=payer).count() == 1
    assert ledger.verify_balances() == []


def test_a_circle_admin_may_refund_a_member(circle, admin, payer, paid_order):
    actions.do_refund_order(actor=admin, order=paid_order)
    assert Order.objects.get(id=paid_order.id).status == OrderStatus.REFUNDED


def test_a_plain_member_may_not_refund_someone_else(circle, member, payer, paid_order):
    with pytest.raises(Forbidden) as error:
        actions.do_refund_order(actor=member, order=paid_order)
    assert error.value.code == "insufficient_role"


def test_refund_after_the_window_is_refused_and_changes_nothing(circle, payer, paid_order):
    Order.objects.filter(id=paid_order.id).update(refund_until=timezone.now() - timedelta(seconds=1))
    before = balances(circle)
    with pytest.raises(Forbidden) as error:
        actions.do_refund_order(actor=payer, order=Order.objects.get(id=paid_order.id))
    assert error.value.code == "refund_window_passed"
    assert balances(circle) == before
    assert Order.objects.get(id=paid_order.id).status == OrderStatus.PAID
    assert Membership.objects.get(circle=circle, user=payer).status == MembershipStatus.ACTIVE


def test_double_refund_is_a_conflict(circle, payer, paid_order):
    actions.do_refund_order(actor=payer, order=paid_order)
    with pytest.raises(Conflict) as error:
        actions.do_refund_order(actor=payer, order=paid_order)
    assert error.value.code == "already_refunded"
    assert Transaction.objects.filter(reverses=paid_order.payment_txn).count() == 1


def test_refunding_a_renewal_takes_back_only_the_time_it_added(circle, monthly, payer, paid_order):
    first_until = Membership.objects.get(circle=circle, user=payer).paid_until
    renewal = order_for(payer, circle, monthly, key="renew")
    deliver(sandbox_event(renewal))
    actions.do_refund_order(actor=payer, order=Order.objects.get(id=renewal.id))
    membership = Membership.objects.get(circle=circle, user=payer)
    assert membership.status == MembershipStatus.ACTIVE and membership.paid_until == first_until
    assert balances(circle)["pending"] == 1900


def test_manual_payment_is_confirmed_by_an_admin(circle, admin, member, monthly, payer):
    order = order_for(payer, circle, monthly, provider="manual")
    assert order.checkout_url == ""
    with pytest.raises(Forbidden):
        actions.do_confirm_manual_payment(actor=member, order=order)
    actions.do_confirm_manual_payment(actor=admin, order=order)
    assert Order.objects.get(id=order.id).status == OrderStatus.PAID
    assert Membership.objects.get(circle=circle, user=payer).status == MembershipStatus.ACTIVE
    assert Account.objects.get(kind=AccountKind.PROVIDER_CLEARING, provider="manual").balance == -1999
    assert AuditEntry.objects.filter(action="order.confirm_manual", actor=admin).count() == 1
    with pytest.raises(Conflict) as error:
        actions.do_confirm_manual_payment(actor=admin, order=order)
    assert error.value.code == "already_paid"


def test_refunding_the_first_order_keeps_the_renewal_already_paid_for(circle, monthly, payer, paid_order):
    renewal = order_for(payer, circle, monthly, key="renew")
    deliver(sandbox_event(renewal))
    renewed_until = Membership.objects.get(circle=circle, user=payer).paid_until
    actions.do_refund_order(actor=payer, order=paid_order)
    membership = Membership.objects.get(circle=circle, user=payer)
    assert membership.status == MembershipStatus.ACTIVE
    assert membership.paid_until == renewed_until - (paid_order.granted_until - paid_order.paid_at)


def test_refunding_an_upgrade_to_lifetime_restores_the_paid_period(circle, owner, payer, paid_order):
    lifetime = actions.do_create_plan(actor=owner, circle=circle, name="Life", kind=PlanKind.ONE_TIME, amount=9999)
    upgrade = order_for(payer, circle, lifetime, key="life")
    deliver(sandbox_event(upgrade))
    assert Membership.objects.get(circle=circle, user=payer).paid_until is None
    actions.do_refund_order(actor=payer, order=Order.objects.get(id=upgrade.id))
    membership = Membership.objects.get(circle=circle, user=payer)
    assert membership.is_active and membership.paid_until == paid_order.granted_until


def test_deploy_check_flags_the_sandbox_and_a_half_configured_stripe(settings):
    from quanzi.payments.apps import check_payment_settings

    settings.DEBUG = False
    settings.QUANZI_STRIPE_SECRET_KEY = ""
    assert {m.id for m in check_payment_settings()} == {"quanzi.payments.W001", "quanzi.payments.E001"}
    settings.QUANZI_PAYMENT_PROVIDERS = ["manual"]
    assert check_payment_settings() == []
