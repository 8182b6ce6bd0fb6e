"""The money API: idempotent POSTs, clear 4xx for bad input (and nothing recorded), revenue, wallet, payouts."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from api.helpers import ApiClient, assert_error
from django.utils import timezone

from quanzi.circles import actions as circle_actions
from quanzi.circles.models import Membership, MembershipStatus
from quanzi.core.models import AuditEntry
from quanzi.ledger import services as ledger
from quanzi.ledger.models import Transaction
from quanzi.payments.models import IdempotentReply, Order, PayoutRequest, PricePlan

from .conftest import deliver, sandbox_event

pytestmark = pytest.mark.django_db


def post(client: ApiClient, path: str, body=None, key: str | None = "key-1"):
    headers = {**client._headers(), **({"Idempotency-Key": key} if key else {})}
    response = client.client.post(path, data=json.dumps(body or {}), content_type="application/json", headers=headers)
    response.data = response.json()
    return response


@pytest.fixture
def owner_api(owner):
    return ApiClient(owner)


@pytest.fixture
def payer_api(payer):
    return ApiClient(payer)


def test_plans_are_created_listed_repriced_and_archived(owner_api, payer_api, circle):
    created = owner_api.post("/api/circles/runners/plans", {"name": "Monthly", "kind": "monthly", "amount": 1999,
                                                             "trial_days": 7})
    assert created.status_code == 201, created.data
    plan_id = created.data["id"]
    listing = payer_api.get("/api/circles/runners/plans").data
    assert listing["requires_payment"] is True and listing["currency"] == "CNY"
    assert [p["amount"] for p in listing["items"]] == [1999]
    assert owner_api.patch(f"/api/circles/runners/plans/{plan_id}", {"amount": 2999}).data["amount"] == 2999
    assert owner_api.delete(f"/api/circles/runners/plans/{plan_id}").data["active"] is False
    assert payer_api.get("/api/circles/runners/plans").data == {**listing, "items": [], "requires_payment": False}
    assert AuditEntry.objects.filter(action__startswith="plan.").count() == 3


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"name": "Monthly", "kind": "monthly", "amount": 0}, "invalid_amount"),
        ({"name": "Monthly", "kind": "monthly", "amount": -100}, "invalid_amount"),
        ({"name": "Free", "kind": "free", "amount": 100}, "invalid_amount"),
        ({"name": "Monthly", "kind": "monthly", "amount": 1999, "currency": "USD"}, "currency_mismatch"),
        ({"name": "Monthly", "kind": "monthly", "amount": 1999, "currency": "XYZ"}, "invalid_currency"),
        ({"name": "Weekly", "kind": "weekly", "amount": 1999}, "invalid_kind"),
        ({"name": "", "kind": "monthly", "amount": 1999}, "invalid_name"),
        ({"name": "Life", "kind": "one_time", "amount": 1999, "trial_days": 3}, "invalid_trial_days"),
        ({"name": "Monthly", "kind": "monthly", "amount": 1999, "trial_days": 9999}, "invalid_trial_days"),
    ],
)
def test_bad_plans_are_refused_and_nothing_is_recorded(owner_api, circle, body, code):
    assert_error(owner_api.post("/api/circles/runners/plans", body), 400, code)
    assert not PricePlan.objects.exists()
    assert not AuditEntry.objects.filter(action="plan.create").exists()


def test_order_pay_refund_through_the_api(owner_api, payer_api, payer, circle, monthly):
    response = post(payer_api, "/api/circles/runners/orders", {"plan_id": monthly.id, "provider": "sandbox"})
    assert response.status_code == 201, response.data
    order = response.data["order"]
    assert response.data["checkout_url"] == f"/payments/sandbox/{order['public_id']}/"
    assert response.data["status"] == "pending" and order["amount"] == 1999
    deliver(sandbox_event(Order.objects.get(public_id=order["public_id"])))
    mine = payer_api.get("/api/orders").data
    assert mine["total"] == 1 and mine["items"][0]["status"] == "paid" and mine["items"][0]["paid_until"]
    # The circle shows the payer's own paid-through date, and admins see it in the member list.
    paid_until = Membership.objects.get(circle=circle, user=payer).paid_until
    shown = payer_api.get("/api/circles/runners").data["membership"]["paid_until"]
    assert abs(datetime.fromisoformat(shown) - paid_until) < timedelta(milliseconds=1)
    listed = {m["user"]["id"]: m for m in owner_api.get("/api/circles/runners/members").data["items"]}
    assert listed[payer.id]["paid_until"] is not None
    refund = post(payer_api, f"/api/orders/{order['public_id']}/refund", key="refund-1")
    assert refund.status_code == 200 and refund.data["status"] == "refunded"
    assert Membership.objects.get(circle=circle, user=payer).status == MembershipStatus.LEFT
    # The same key again: the first answer, nothing moves.
    transactions = Transaction.objects.count()
    again = post(payer_api, f"/api/orders/{order['public_id']}/refund", key="refund-1")
    assert again.status_code == 200 and again.data == refund.data
    assert Transaction.objects.count() == transactions
    # A new key: the order is already refunded.
    assert_error(post(payer_api, f"/api/orders/{order['public_id']}/refund", key="refund-2"), 409, "already_refunded")


def test_an_order_replay_returns_the_first_order_and_writes_nothing(payer_api, circle, monthly):
    first = post(payer_api, "/api/circles/runners/orders", {"plan_id": monthly.id, "provider": "sandbox"})
    replay = post(payer_api, "/api/circles/runners/orders", {"plan_id": monthly.id, "provider": "sandbox"})
    assert first.status_code == 201 and replay.status_code == 201
    assert replay.data == first.data
    assert Order.objects.count() == 1 and IdempotentReply.objects.count() == 1
    other = post(payer_api, "/api/circles/runners/orders", {"plan_id": monthly.id, "provider": "manual"})
    assert_error(other, 409, "idempotency_mismatch")
    assert Order.objects.count() == 1


def test_money_posts_need_an_idempotency_key(payer_api, circle, monthly):
    response = post(payer_api, "/api/circles/runners/orders", {"plan_id": monthly.id}, key=None)
    assert_error(response, 400, "idempotency_key_required")
    assert_error(post(payer_api, "/api/circles/runners/orders", {"plan_id": monthly.id}, key="é" * 3), 400,
                 "idempotency_key_required")
    assert not Order.objects.exists()


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"plan_id": 999999, "provider": "sandbox"}, 404, "plan_not_found"),
        ({"plan_id": 1, "provider": "paypal"}, 400, "unknown_provider"),
        ({"plan_id": -1, "provider": "sandbox"}, 422, "validation_error"),
    ],
)
def test_bad_orders_are_refused_and_nothing_is_recorded(payer_api, circle, monthly, body, status, code):
    assert_error(post(payer_api, "/api/circles/runners/orders", body), status, code)
    assert not Order.objects.exists() and not IdempotentReply.objects.exists()


def test_an_archived_plan_cannot_be_ordered(owner_api, payer_api, circle, monthly):
    owner_api.delete(f"/api/circles/runners/plans/{monthly.id}")
    assert_error(post(payer_api, "/api/circles/runners/orders", {"plan_id": monthly.id}), 404, "plan_not_found")


def test_a_plan_whose_currency_no_longer_matches_cannot_be_ordered(payer_api, circle, monthly):
    type(circle).objects.filter(id=circle.id).update(currency="USD")
    assert_error(post(payer_api, "/api/circles/runners/orders", {"plan_id": monthly.id}), 400, "currency_mismatch")
    assert not Order.objects.exists()


def test_paying_for_a_circle_you_are_banned_from_is_refused(owner, payer, payer_api, circle, monthly):
    circle_actions.do_ban_user(actor=owner, circle=circle, user=payer, reason="spam")
    assert_error(post(payer_api, "/api/circles/runners/orders", {"plan_id": monthly.id}), 403, "banned")
    assert not Order.objects.exists() and not Transaction.objects.exists()


def test_members_with_free_access_do_not_pay(member, circle, monthly):
    assert_error(post(ApiClient(member), "/api/circles/runners/orders", {"plan_id": monthly.id}), 409,
                 "already_member")


def test_a_free_plan_just_joins(owner, payer, payer_api, circle):
    from quanzi.payments import actions

    free = actions.do_create_plan(actor=owner, circle=circle, name="Free", kind="free", amount=0)
    response = post(payer_api, "/api/circles/runners/orders", {"plan_id": free.id})
    assert response.status_code == 200 and response.data["status"] == "joined" and response.data["order"] is None
    assert Membership.objects.get(circle=circle, user=payer).status == MembershipStatus.ACTIVE
    assert not Order.objects.exists()


def test_a_manual_order_is_confirmed_through_the_api(admin, payer_api, payer, circle, monthly):
    response = post(payer_api, "/api/circles/runners/orders", {"plan_id": monthly.id, "provider": "manual"})
    public_id = response.data["order"]["public_id"]
    assert response.data["checkout_url"] is None
    assert_error(post(payer_api, f"/api/orders/{public_id}/confirm", key="c1"), 403, "not_member")
    confirmed = post(ApiClient(admin), f"/api/orders/{public_id}/confirm", key="c2")
    assert confirmed.status_code == 200 and confirmed.data["status"] == "paid"
    assert Membership.objects.get(circle=circle, user=payer).is_active


def test_revenue_by_month_and_payouts(settings, owner_api, owner, admin, payer, make_user, circle, monthly):
    from quanzi.payments import actions
    from quanzi.payments.tasks import settle_order_revenue

    users = [payer, make_user("second"), make_user("third")]
    orders = []
    for user in users:
        order = actions.do_create_order(user=user, circle=circle, plan_id=monthly.id, provider="sandbox",
                                        idempotency_key="k").order
        deliver(sandbox_event(order))
        orders.append(Order.objects.get(id=order.id))
    actions.do_refund_order(actor=users[2], order=orders[2])
    # Two settle after the window; the refunded one has nothing to settle.
    Order.objects.filter(id__in=[o.id for o in orders]).update(refund_until=timezone.now() - timedelta(seconds=1))
    assert [settle_order_revenue.call(order_id=o.id) for o in orders] == ["settled", "settled", "skipped"]
    assert settle_order_revenue.call(order_id=orders[0].id) == "skipped"  # idempotent
    revenue = owner_api.get("/api/circles/runners/revenue").data
    assert revenue | {"months": None} == {
        # Refunds are what the payer got back (1999); the refunded order's fee (99) is returned too.
        "currency": "CNY", "gross": 3 * 1999, "fees": 2 * 99, "refunds": 1999, "net": 2 * 1900,
        "pending": 0, "available": 2 * 1900, "payouts_pending": 0, "paid_out": 0, "months": None,
    }
    month = timezone.localtime(orders[0].paid_at, timezone=ZoneInfo(circle.timezone))
    assert revenue["months"] == [{"month": month.strftime("%Y-%m"), "gross": 5997, "fees": 198, "refunds": 1999,
                                  "net": 3800}]
    assert ApiClient(admin).get("/api/circles/runners/revenue").data == revenue

    # Payouts: no more than available; the owner asks, staff pay or reject.
    assert_error(post(owner_api, "/api/circles/runners/payouts", {"amount": 3801}, key="p0"), 409,
                 "insufficient_funds")
    assert_error(post(owner_api, "/api/circles/runners/payouts", {"amount": 0}, key="p00"), 400, "invalid_amount")
    assert_error(post(ApiClient(admin), "/api/circles/runners/payouts", {"amount": 100}, key="pa"), 403,
                 "insufficient_role")
    first = post(owner_api, "/api/circles/runners/payouts", {"amount": 3000}, key="p1")
    second = post(owner_api, "/api/circles/runners/payouts", {"amount": 800}, key="p2")
    assert first.status_code == second.status_code == 201
    assert owner_api.get("/api/circles/runners/revenue").data["available"] == 0
    staff = make_user("staff", is_staff=True)
    staff_api = ApiClient(staff)
    assert_error(post(owner_api, f"/api/payouts/{first.data['id']}/paid", key="x"), 403, "staff_only")
    paid = post(staff_api, f"/api/payouts/{first.data['id']}/paid", {"reference": "BANK-1"}, key="s1")
    assert paid.status_code == 200 and paid.data["status"] == "paid" and paid.data["reference"] == "BANK-1"
    rejected = post(staff_api, f"/api/payouts/{second.data['id']}/reject", {"reason": "check details"}, key="s2")
    assert rejected.data["status"] == "rejected"
    assert_error(post(staff_api, f"/api/payouts/{second.data['id']}/paid", key="s3"), 409, "payout_decided")
    final = owner_api.get("/api/circles/runners/revenue").data
    assert (final["available"], final["payouts_pending"], final["paid_out"]) == (800, 0, 3000)
    assert owner_api.get("/api/circles/runners/payouts").data["total"] == 2
    assert PayoutRequest.objects.filter(status="paid").count() == 1
    assert ledger.verify_balances() == []


def test_wallet_is_empty_until_money_arrives(payer_api, payer):
    from quanzi.ledger.models import AccountKind

    assert payer_api.get("/api/me/wallet").data == {"currency": "CNY", "balance": 0, "currencies": [], "items": [],
                                                   "total": 0, "limit": 50, "offset": 0}
    ledger.post_transaction(kind="test.tip", idempotency_key="tip-1", memo="a tip", legs=[
        (ledger.get_account(AccountKind.PROVIDER_CLEARING, currency="CNY", provider="sandbox"), -500),
        (ledger.get_account(AccountKind.WALLET, currency="CNY", user=payer), 500),
    ])
    wallet = payer_api.get("/api/me/wallet").data
    assert wallet["balance"] == 500 and wallet["currencies"] == ["CNY"]
    assert [(i["amount"], i["kind"], i["memo"]) for i in wallet["items"]] == [(500, "test.tip", "a tip")]
    assert_error(payer_api.get("/api/me/wallet?currency=XXX"), 400, "invalid_currency")


def test_payment_settings(owner_api, circle):
    response = owner_api.patch("/api/circles/runners/payment-settings",
                               {"refund_window_hours": 24, "expiry_action": "remove", "currency": "USD"})
    assert response.data == {"currency": "USD", "refund_window_hours": 24, "expiry_action": "remove",
                             "renewal_reminder_days": 3}
    assert_error(owner_api.patch("/api/circles/runners/payment-settings", {"expiry_action": "explode"}), 400,
                 "invalid_expiry_action")
    assert_error(owner_api.patch("/api/circles/runners/payment-settings", {"refund_window_hours": -1}), 400,
                 "invalid_refund_window")
    owner_api.post("/api/circles/runners/plans", {"name": "M", "kind": "monthly", "amount": 100})
    assert_error(owner_api.patch("/api/circles/runners/payment-settings", {"currency": "CNY"}), 409,
                 "currency_mismatch")


def test_a_private_circle_is_paid_for_through_a_live_invite_only(owner, make_user, payer_api, payer, circle, monthly):
    circle_actions.do_update_circle(actor=owner, circle=circle, visibility="private")
    body = {"plan_id": monthly.id}
    assert_error(post(payer_api, "/api/circles/runners/orders", body, key="a"), 404, "circle_not_found")
    invite = circle_actions.do_create_invite(actor=owner, circle=circle, max_uses=1)
    ordered = post(payer_api, "/api/circles/runners/orders", {**body, "invite_code": invite.code}, key="b")
    assert ordered.status_code == 201, ordered.data
    deliver(sandbox_event(Order.objects.get(public_id=ordered.data["order"]["public_id"])))
    membership = Membership.objects.get(circle=circle, user=payer)
    assert membership.is_active and membership.invite_id == invite.id
    circle_actions.do_revoke_invite(actor=owner, circle=circle, invite_id=invite.id)
    outsider = ApiClient(make_user("late"))
    assert_error(post(outsider, "/api/circles/runners/orders", {**body, "invite_code": invite.code}, key="c"), 404,
                 "circle_not_found")
