"""Wallet top-ups: an order with purpose ``wallet_topup`` through the same providers and webhook path;
paid once → ``provider_clearing → wallet``; bad input refused with nothing stored; circle pages untouched."""

from __future__ import annotations

import json

import pytest
from api.helpers import ApiClient
from django.test import Client
from django.urls import reverse

from quanzi.core.errors import Conflict, Forbidden, InvalidInput
from quanzi.ledger import services as ledger
from quanzi.ledger.models import AccountKind, Transaction
from quanzi.payments import actions, selectors
from quanzi.payments.models import IdempotentReply, Order, OrderPurpose, OrderStatus, ProcessedWebhook

from .conftest import deliver, sandbox_event

pytestmark = pytest.mark.django_db


def topup(user, amount=5000, *, key="t1", provider="sandbox", currency="CNY"):
    return actions.do_create_topup_order(user=user, amount=amount, currency=currency, provider=provider,
                                         idempotency_key=key)


def wallet_balance(user, currency="CNY") -> int:
    return selectors.wallet(user, currency)[0]


def post(client: ApiClient, path: str, body, key: str | None = "key-1"):
    headers = {**client._headers(), **({"Idempotency-Key": key} if key else {})}
    return client.client.post(path, data=json.dumps(body), content_type="application/json", headers=headers)


def test_a_paid_sandbox_topup_credits_the_wallet_once(payer):
    checkout = topup(payer)
    order = checkout.order
    assert order.purpose == OrderPurpose.WALLET_TOPUP and order.circle is None and order.plan is None
    assert checkout.checkout_url == reverse("payments:sandbox_checkout", args=[order.public_id])
    body = sandbox_event(order)
    assert deliver(body).json()["result"] == "processed"
    assert deliver(body).json()["result"] == "duplicate"
    assert deliver(sandbox_event(order)).json()["result"] == "processed"  # a second event for the same order
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID and order.payment_txn.kind == "wallet.topup"
    assert wallet_balance(payer) == 5000
    clearing = ledger.get_account(AccountKind.PROVIDER_CLEARING, currency="CNY", provider="sandbox")
    assert ledger.balance(clearing) == -5000
    assert not ledger.get_account(AccountKind.PLATFORM_FEES, currency="CNY").balance  # no fee on own money
    assert Transaction.objects.count() == 1 and ledger.verify_balances() == []


def test_the_same_key_returns_the_first_order_and_a_different_request_conflicts(payer):
    first = topup(payer, key="same")
    again = topup(payer, key="same")
    assert again.replayed and again.order.id == first.order.id
    with pytest.raises(Conflict) as error:
        topup(payer, amount=6000, key="same")
    assert error.value.code == "idempotency_mismatch"
    assert Order.objects.count() == 1


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"amount": 0}, "invalid_amount"),
        ({"amount": -5}, "invalid_amount"),
        ({"amount": 10.5}, "invalid_amount"),
        ({"amount": True}, "invalid_amount"),
        ({"amount": 10**12}, "invalid_amount"),
        ({"currency": "XXX"}, "invalid_currency"),
        ({"provider": "paypal"}, "unknown_provider"),
        ({"key": ""}, "idempotency_key_required"),
    ],
)
def test_bad_topups_are_refused_and_store_nothing(payer, kwargs, code):
    with pytest.raises(InvalidInput) as error:
        topup(payer, **kwargs)
    assert error.value.code == code
    assert not Order.objects.exists()


def test_a_membership_key_cannot_be_replayed_as_a_topup_or_back(payer, circle, monthly):
    actions.do_create_order(user=payer, circle=circle, plan_id=monthly.id, provider="sandbox", idempotency_key="k")
    with pytest.raises(Conflict):
        topup(payer, key="k")
    topup(payer, key="t")
    with pytest.raises(Conflict):
        actions.do_create_order(user=payer, circle=circle, plan_id=monthly.id, provider="sandbox",
                                idempotency_key="t")


def test_an_amount_mismatch_in_the_webhook_is_refused(payer):
    order = topup(payer).order
    body = sandbox_event(order, data={"amount": 1})
    assert deliver(body).status_code == 400
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING and wallet_balance(payer) == 0
    assert not ProcessedWebhook.objects.exists()


def test_cancelled_topup_closes_without_money(payer):
    order = topup(payer).order
    deliver(sandbox_event(order, "cancel"))
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED and wallet_balance(payer) == 0


def test_manual_topups_are_confirmed_by_staff_only(payer, owner, make_user):
    order = topup(payer, provider="manual").order
    assert order.checkout_url == ""
    with pytest.raises(Forbidden):
        actions.do_confirm_manual_payment(actor=owner, order=order)
    staff = make_user("staffer", is_staff=True)
    actions.do_confirm_manual_payment(actor=staff, order=order)
    assert wallet_balance(payer) == 5000
    with pytest.raises(Conflict):
        actions.do_confirm_manual_payment(actor=staff, order=order)
    assert wallet_balance(payer) == 5000


def test_topups_are_not_refunded(payer):
    order = topup(payer).order
    deliver(sandbox_event(order))
    with pytest.raises(Conflict) as error:
        actions.do_refund_order(actor=payer, order=Order.objects.get(id=order.id))
    assert error.value.code == "topup_not_refundable"
    assert wallet_balance(payer) == 5000


def test_api_topup_is_idempotent_and_listed_only_with_the_wallet(payer):
    api = ApiClient(payer)
    created = post(api, "/api/me/wallet/topups", {"amount": 2500, "currency": "CNY"})
    assert created.status_code == 201, created.json()
    data = created.json()
    assert data["order"]["purpose"] == "wallet_topup" and data["order"]["circle_id"] is None
    assert data["checkout_url"].startswith("/payments/sandbox/")
    replay = post(api, "/api/me/wallet/topups", {"amount": 2500, "currency": "CNY"})
    assert replay.status_code == 201 and replay.json() == data
    mismatch = post(api, "/api/me/wallet/topups", {"amount": 2600, "currency": "CNY"})
    assert mismatch.status_code == 409 and mismatch.json()["code"] == "idempotency_mismatch"
    assert post(api, "/api/me/wallet/topups", {"amount": 2500}, key=None).status_code == 400
    bad = post(api, "/api/me/wallet/topups", {"amount": 0}, key="key-2")
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_amount"
    assert Order.objects.count() == 1 and IdempotentReply.objects.count() == 1
    order = Order.objects.get()
    assert api.get(f"/api/orders/{order.public_id}").data["purpose"] == "wallet_topup"
    assert api.get("/api/orders").data["items"] == []
    deliver(sandbox_event(order))
    assert api.get("/api/me/wallet?currency=CNY").data["balance"] == 2500


def test_web_topup_through_the_sandbox_checkout(payer, make_user):
    client = Client()
    client.force_login(payer)
    page = client.get(reverse("wallet"))
    assert page.status_code == 200 and b'id="topup-form"' in page.content
    key = page.context["topup_form"]["idempotency_key"].value()
    form = {"amount": "12.34", "currency": "CNY", "provider": "sandbox", "idempotency_key": key}
    response = client.post(reverse("payments:wallet_topup"), form)
    order = Order.objects.get()
    assert response.status_code == 302 and response["Location"] == order.checkout_url
    assert client.post(reverse("payments:wallet_topup"), form)["Location"] == order.checkout_url  # double submit
    assert Order.objects.count() == 1
    paid = client.post(order.checkout_url, {"outcome": "pay"}, follow=True)
    assert paid.redirect_chain[-1][0] == reverse("wallet")
    assert wallet_balance(payer) == 1234
    assert "¥12.34" in paid.content.decode()
    # Circle order pages don't show top-ups; my orders lists circle orders only.
    assert client.get(reverse("my_order", args=[order.public_id])).status_code == 404
    assert order.public_id not in client.get(reverse("my_orders")).content.decode()
    other = Client()
    other.force_login(make_user("nosy"))
    assert other.get(order.checkout_url).status_code == 404


@pytest.mark.parametrize("amount", ["", "0", "-1", "1.234", "abc", "99999999999999"])
def test_web_topup_bad_amounts_answer_400_and_store_nothing(payer, amount):
    client = Client()
    client.force_login(payer)
    response = client.post(reverse("payments:wallet_topup"),
                           {"amount": amount, "currency": "CNY", "provider": "sandbox", "idempotency_key": "k"})
    assert response.status_code == 400
    assert b'class="error"' in response.content
    assert not Order.objects.exists()


def test_web_topup_needs_a_login():
    response = Client().post(reverse("payments:wallet_topup"), {"amount": "1"})
    assert response.status_code == 302 and "/login" in response["Location"]
    assert not Order.objects.exists()
