"""Real parallel connections on PostgreSQL: duplicate webhook deliveries and many payers at once.

``select_for_update`` is a no-op on SQLite (whose IMMEDIATE transactions serialise every
writer anyway), so these run in the PostgreSQL pass and are skipped, with the reason, on
SQLite. Deliveries go through the real webhook URL with Django's test client, one client
and one database connection per thread, released together by a barrier.
"""

from __future__ import annotations

from collections import Counter

import pytest
from django.conf import settings
from racing import race

from quanzi.circles.models import Circle, Membership, MembershipStatus
from quanzi.core.models import DomainEvent
from quanzi.ledger import services as ledger
from quanzi.ledger.models import Account, AccountKind, Transaction
from quanzi.payments.models import Order, OrderStatus, ProcessedWebhook

from .conftest import deliver, order_for, sandbox_event

pytestmark = [
    pytest.mark.skipif(
        not settings.IS_POSTGRES,
        reason="row locks (select_for_update) are a no-op on SQLite; these races run against PostgreSQL "
        "(set QUANZI_DATABASE_URL)",
    ),
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(120),
]



def test_200_duplicate_deliveries_activate_once_and_post_once(circle, monthly, payer):
    order = order_for(payer, circle, monthly)
    body = sandbox_event(order)

    def send(_i: int):
        response = deliver(body)
        return response.status_code, response.json().get("result")

    results = Counter(race(200, send, raw=True))
    assert results == {(200, "processed"): 1, (200, "duplicate"): 199}, results
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert ProcessedWebhook.objects.count() == 1
    assert Transaction.objects.filter(kind="order.payment").count() == 1
    assert Membership.objects.filter(circle=circle, user=payer, status=MembershipStatus.ACTIVE).count() == 1
    assert DomainEvent.objects.filter(type="member.joined", target_user=payer).count() == 1
    assert DomainEvent.objects.filter(type="order.paid").count() == 1
    assert ledger.verify_balances() == []


def test_100_parallel_payments_by_different_members(circle, monthly, make_user):
    orders = [order_for(make_user(f"payer{i}"), circle, monthly) for i in range(100)]
    bodies = [sandbox_event(order) for order in orders]
    members_before = Circle.objects.get(id=circle.id).member_count

    def send(i: int):
        response = deliver(bodies[i])
        return response.status_code, response.json().get("result")

    results = Counter(race(100, send, raw=True))
    assert results == {(200, "processed"): 100}, results
    assert Order.objects.filter(status=OrderStatus.PAID).count() == 100
    assert Transaction.objects.filter(kind="order.payment").count() == 100
    paid_members = Membership.objects.filter(circle=circle, status=MembershipStatus.ACTIVE, paid_until__isnull=False)
    assert paid_members.count() == 100
    assert Circle.objects.get(id=circle.id).member_count == members_before + 100
    clearing = Account.objects.get(kind=AccountKind.PROVIDER_CLEARING, provider="sandbox")
    fees = Account.objects.get(kind=AccountKind.PLATFORM_FEES, currency="CNY")
    pending = Account.objects.get(kind=AccountKind.CIRCLE_PENDING, circle=circle)
    assert (clearing.balance, fees.balance, pending.balance) == (-100 * 1999, 100 * 99, 100 * 1900)
    assert ledger.verify_balances() == []
    assert ledger.verify_transactions() == []
