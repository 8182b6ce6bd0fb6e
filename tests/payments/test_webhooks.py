"""Webhook verification for every provider, through the real URL: forged, stale and replayed
deliveries are refused with 400 and record nothing; duplicates are processed once."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
from django.test import Client

from quanzi.circles.models import Membership
from quanzi.ledger.models import Transaction
from quanzi.payments.models import Order, OrderStatus, ProcessedWebhook
from quanzi.payments.providers import sandbox

from .conftest import deliver, order_for, sandbox_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def order(circle, monthly, payer):
    return order_for(payer, circle, monthly)


def assert_nothing_recorded(order) -> None:
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING
    assert not ProcessedWebhook.objects.exists()
    assert not Transaction.objects.exists()
    assert not Membership.objects.filter(circle=order.circle, user=order.user).exists()


def test_a_correctly_signed_delivery_is_processed(order):
    response = deliver(sandbox_event(order))
    assert response.status_code == 200 and response.json() == {"ok": True, "result": "processed"}
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID


def test_a_bad_signature_is_refused(order):
    body = sandbox_event(order)
    forged = sandbox.sign(body, int(time.time()), key=b"not-our-key")
    response = deliver(body, signature=forged)
    assert response.status_code == 400 and response.json()["code"] == "signature_mismatch"
    assert_nothing_recorded(order)


def test_a_tampered_body_is_refused(order):
    body = sandbox_event(order)
    signature = sandbox.sign(body, int(time.time()))
    tampered = body.replace(b'"amount": 1999', b'"amount": 1')
    assert tampered != body
    assert deliver(tampered, signature=signature).status_code == 400
    assert_nothing_recorded(order)


@pytest.mark.parametrize("header", ["", "garbage", "t=abc,v1=00", "v1=00", "t=1", "t=99999999999999,v1=00"])
def test_malformed_or_missing_signatures_are_refused(order, header):
    response = deliver(sandbox_event(order), signature=header)
    assert response.status_code == 400 and response.json()["code"].startswith("signature_")
    assert_nothing_recorded(order)


@pytest.mark.parametrize("age", [301, 3600, -301])
def test_a_stale_or_future_timestamp_is_refused(order, age):
    response = deliver(sandbox_event(order), timestamp=int(time.time()) - age)
    assert response.status_code == 400 and response.json()["code"] == "signature_expired"
    assert_nothing_recorded(order)


def test_a_captured_delivery_replayed_later_is_refused(order, monkeypatch):
    body = sandbox_event(order, "fail")
    stamp = int(time.time())
    signature = sandbox.sign(body, stamp)
    assert deliver(body, signature=signature).status_code == 200  # delivered once: the order failed
    recorded = ProcessedWebhook.objects.count()
    later = stamp + 6 * 60
    monkeypatch.setattr(sandbox.time, "time", lambda: later)
    response = deliver(body, signature=signature)
    assert response.status_code == 400 and response.json()["code"] == "signature_expired"
    assert ProcessedWebhook.objects.count() == recorded == 1


def test_an_amount_that_does_not_match_the_order_is_refused(order):
    response = deliver(sandbox_event(order, data={"amount": 1}))
    assert response.status_code == 400 and response.json()["code"] == "amount_mismatch"
    assert_nothing_recorded(order)


def test_a_duplicate_delivery_is_processed_once(order):
    body = sandbox_event(order)
    assert deliver(body).json()["result"] == "processed"
    second = deliver(body)
    assert second.status_code == 200 and second.json()["result"] == "duplicate"
    assert ProcessedWebhook.objects.count() == 1
    assert Transaction.objects.count() == 1


def test_a_second_payment_event_for_a_paid_order_moves_no_money(order):
    deliver(sandbox_event(order))
    assert deliver(sandbox_event(order)).json()["result"] == "processed"  # a new event id, same order
    assert Transaction.objects.count() == 1


def test_events_for_unknown_orders_are_ignored(order):
    response = deliver(sandbox_event(order, data={"order": "ord_nope"}))
    assert response.status_code == 200 and response.json()["result"] == "ignored"
    assert_nothing_recorded(order)


def test_unknown_or_disabled_providers_answer_404(settings, order):
    assert deliver(sandbox_event(order), provider="paypal").status_code == 404
    settings.QUANZI_PAYMENT_PROVIDERS = ["manual"]
    assert deliver(sandbox_event(order)).status_code == 404
    assert_nothing_recorded(order)


def test_the_webhook_url_takes_only_post(order):
    assert Client().get("/payments/webhooks/sandbox/").status_code == 405


def test_manual_payments_have_no_webhooks(order):
    response = deliver(b"{}", provider="manual", signature="t=1,v1=00")
    assert response.status_code == 400 and response.json()["code"] == "no_webhooks"


# --- Stripe: its documented scheme, built by hand (no library helper, no network) ---------


STRIPE_SECRET = "whsec_test_secret"  # conftest sets QUANZI_STRIPE_WEBHOOK_SECRET to this


def stripe_signature(payload: bytes, secret: str = STRIPE_SECRET, timestamp: int | None = None) -> str:
    """https://docs.stripe.com/webhooks#verify-manually: HMAC-SHA256 of "{t}.{payload}" with the secret."""
    stamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{stamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={digest}"


@pytest.fixture
def stripe_order(circle, monthly, payer):
    order = order_for(payer, circle, monthly, provider="sandbox", key="stripe")
    # Checkout Session creation calls Stripe; the webhook side is what is tested here.
    Order.objects.filter(id=order.id).update(provider="stripe", provider_ref="cs_test_123")
    return Order.objects.get(id=order.id)


def stripe_event(order, event_type="checkout.session.completed", event_id="evt_1", **session) -> bytes:
    obj = {"id": "cs_test_123", "object": "checkout.session", "client_reference_id": order.public_id,
           "amount_total": order.amount, "currency": order.currency.lower(), "payment_status": "paid",
           "payment_intent": "pi_123", **session}
    return json.dumps({"id": event_id, "object": "event", "type": event_type, "data": {"object": obj}}).encode()


def deliver_stripe(body: bytes, signature: str):
    return deliver(body, provider="stripe", signature=signature, header="HTTP_STRIPE_SIGNATURE")


def test_stripe_signed_completion_pays_the_order(stripe_order):
    body = stripe_event(stripe_order)
    response = deliver_stripe(body, stripe_signature(body))
    assert response.status_code == 200, response.content
    stripe_order.refresh_from_db()
    assert stripe_order.status == OrderStatus.PAID and stripe_order.provider_ref == "pi_123"
    assert deliver_stripe(body, stripe_signature(body)).json()["result"] == "duplicate"
    assert Transaction.objects.count() == 1


def test_stripe_wrong_secret_is_refused(stripe_order):
    body = stripe_event(stripe_order)
    response = deliver_stripe(body, stripe_signature(body, secret="whsec_someone_else"))
    assert response.status_code == 400 and response.json()["code"] == "signature_mismatch"
    assert_nothing_recorded(stripe_order)


def test_stripe_stale_timestamp_is_refused(stripe_order):
    body = stripe_event(stripe_order)
    response = deliver_stripe(body, stripe_signature(body, timestamp=int(time.time()) - 301))
    assert response.status_code == 400 and response.json()["code"] == "signature_expired"
    assert_nothing_recorded(stripe_order)


def test_stripe_unpaid_completion_and_other_events_are_ignored(stripe_order):
    for body in (stripe_event(stripe_order, payment_status="unpaid"),
                 stripe_event(stripe_order, event_type="customer.created", event_id="evt_2")):
        response = deliver_stripe(body, stripe_signature(body))
        assert response.status_code == 200 and response.json()["result"] == "ignored"
    assert_nothing_recorded(stripe_order)


def test_stripe_expired_session_cancels_the_order(stripe_order):
    body = stripe_event(stripe_order, event_type="checkout.session.expired", payment_status="unpaid")
    assert deliver_stripe(body, stripe_signature(body)).status_code == 200
    stripe_order.refresh_from_db()
    assert stripe_order.status == OrderStatus.CANCELLED
