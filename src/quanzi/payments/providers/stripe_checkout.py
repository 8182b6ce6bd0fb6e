"""Stripe: Checkout Sessions for paying, signed webhooks for learning the outcome.

Checkout and refunds call Stripe's API (not in tests); webhooks are verified with the
official library's ``stripe.Webhook.construct_event`` — HMAC-SHA256 over
``f"{t}.{body}"`` with the endpoint's signing secret, header ``Stripe-Signature:
t=…,v1=…`` — and the same 5-minute tolerance as the sandbox.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import stripe
from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext as _

from quanzi.core.errors import QuanziError

from .base import WEBHOOK_TOLERANCE_SECONDS, EventKind, InvalidWebhook, PaymentProvider, WebhookEvent

SIGNATURE_HEADER = "Stripe-Signature"

_KINDS = {
    "checkout.session.async_payment_succeeded": EventKind.PAID,
    "checkout.session.async_payment_failed": EventKind.FAILED,
    "checkout.session.expired": EventKind.CANCELLED,
}


class ProviderUnavailable(QuanziError):
    status = 502
    code = "provider_unavailable"


def _product_name(order) -> str:
    if order.is_topup:
        return "Quanzi · wallet top-up"
    return f"{order.circle.name} · {order.plan.name}"[:250]


def _site_url(path: str) -> str:
    return settings.QUANZI_SITE_URL.rstrip("/") + path


class StripeProvider(PaymentProvider):
    name = "stripe"
    label = "Stripe"

    def _api_key(self) -> str:
        key = settings.QUANZI_STRIPE_SECRET_KEY
        if not key:
            raise ProviderUnavailable(_("Stripe is not configured on this server."), code="provider_not_configured")
        return key

    def create_checkout(self, order) -> str:
        order_path = reverse("payments:order_return", args=[order.public_id])
        try:
            session = stripe.checkout.Session.create(
                api_key=self._api_key(),
                mode="payment",
                client_reference_id=order.public_id,
                metadata={"order": order.public_id},
                line_items=[{
                    "quantity": 1,
                    "price_data": {
                        "currency": order.currency.lower(),
                        "unit_amount": order.amount,
                        "product_data": {"name": _product_name(order)},
                    },
                }],
                success_url=_site_url(order_path + "?outcome=success"),
                cancel_url=_site_url(order_path + "?outcome=cancel"),
                idempotency_key=f"quanzi-checkout-{order.public_id}",
            )
        except stripe.StripeError as error:
            raise ProviderUnavailable(_("Stripe refused the checkout: %(error)s") % {"error": error.user_message or ""})
        order.provider_ref = session.id
        return session.url or ""

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> WebhookEvent:
        secret = settings.QUANZI_STRIPE_WEBHOOK_SECRET
        if not secret:
            raise InvalidWebhook(_("Stripe webhooks are not configured on this server."), code="signature_mismatch")
        try:
            stripe.Webhook.construct_event(
                body, headers.get(SIGNATURE_HEADER), secret, tolerance=WEBHOOK_TOLERANCE_SECONDS
            )
            # Verified: read the plain JSON (StripeObject's dict behaviour differs between versions).
            event = json.loads(body)
        except stripe.SignatureVerificationError as error:
            expired = "tolerance" in str(error)
            raise InvalidWebhook(
                _("The Stripe signature is too old; refused as a replay.") if expired
                else _("The Stripe signature does not verify."),
                code="signature_expired" if expired else "signature_mismatch",
            )
        except (ValueError, UnicodeDecodeError):
            raise InvalidWebhook(_("The webhook body is not a valid event."), code="malformed_event")
        try:
            session = event["data"]["object"]
            kind = _KINDS.get(event["type"], EventKind.IGNORED)
            if event["type"] == "checkout.session.completed":
                # Card payments are paid on completion; bank debits complete first and succeed later.
                kind = EventKind.PAID if session.get("payment_status") == "paid" else EventKind.IGNORED
            order_id = session.get("client_reference_id") or (session.get("metadata") or {}).get("order") or ""
            amount = session.get("amount_total")
            return WebhookEvent(
                provider=self.name, event_id=str(event["id"])[:255], kind=kind, order_public_id=str(order_id)[:64],
                amount=amount if isinstance(amount, int) else None,
                currency=str(session.get("currency") or "").upper()[:3],
                provider_ref=str(session.get("payment_intent") or session.get("id") or "")[:255],
                raw_type=str(event["type"])[:64],
            )
        except (KeyError, TypeError, AttributeError, ValueError):
            raise InvalidWebhook(_("The webhook body is not a valid event."), code="malformed_event")

    def refund(self, order) -> str:
        try:
            refund = stripe.Refund.create(
                api_key=self._api_key(), payment_intent=order.provider_ref,
                idempotency_key=f"quanzi-refund-{order.public_id}",
            )
        except stripe.StripeError as error:
            raise ProviderUnavailable(_("Stripe refused the refund: %(error)s") % {"error": error.user_message or ""})
        return refund.id
