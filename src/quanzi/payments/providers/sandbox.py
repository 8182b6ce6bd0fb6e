"""The sandbox provider: the whole payment flow on a laptop, with no network.

Its checkout page (``payments.views.sandbox_checkout``) lets the payer choose pay, cancel
or fail. The choice becomes a webhook signed exactly like a real provider's — HMAC-SHA256
over ``f"{timestamp}.{body}"`` in the header ``t=<timestamp>,v1=<hex>`` — and it is handed
to the same handler (``payments.webhooks.handle_webhook``) that a real provider's HTTP
delivery reaches, so signature checking, idempotency and the ledger are exercised alike.
The key is derived from SECRET_KEY, so only this instance can sign.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Mapping

from django.urls import reverse
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

from .base import WEBHOOK_TOLERANCE_SECONDS, EventKind, InvalidWebhook, PaymentProvider, WebhookEvent

SIGNATURE_HEADER = "X-Quanzi-Sandbox-Signature"

OUTCOMES = {"pay": "payment.succeeded", "fail": "payment.failed", "cancel": "payment.cancelled"}
_KINDS = {"payment.succeeded": EventKind.PAID, "payment.failed": EventKind.FAILED,
          "payment.cancelled": EventKind.CANCELLED}


def signing_key() -> bytes:
    """A key of its own, derived from SECRET_KEY (never the secret itself)."""
    return salted_hmac("quanzi.payments.sandbox", "webhook-signing-key", algorithm="sha256").digest()


def sign(body: bytes, timestamp: int, key: bytes | None = None) -> str:
    """The signature header value for ``body`` signed at ``timestamp``."""
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(key or signing_key(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def parse_signature_header(header: str) -> tuple[int, list[str]]:
    """``t=<timestamp>,v1=<hex>[,v1=<hex>…]`` → (timestamp, signatures); ValueError if malformed."""
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep:
            raise ValueError("malformed signature header")
        if name == "t":
            if not (value.isascii() and value.isdigit()) or len(value) > 12:
                raise ValueError("malformed timestamp")
            timestamp = int(value)
        elif name == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        raise ValueError("timestamp or signature missing")
    return timestamp, signatures


def verify(body: bytes, header: str | None, *, key: bytes | None = None, now: float | None = None) -> None:
    """Raise InvalidWebhook unless ``header`` signs ``body`` recently with our key (constant-time compare)."""
    if not header:
        raise InvalidWebhook(_("The webhook signature is missing."), code="signature_missing")
    try:
        timestamp, signatures = parse_signature_header(header)
    except ValueError:
        raise InvalidWebhook(_("The webhook signature header is malformed."), code="signature_malformed")
    expected = sign(body, timestamp, key).split(",v1=", 1)[1]
    if not any(hmac.compare_digest(expected.encode(), s.encode()) for s in signatures):
        raise InvalidWebhook(_("The webhook signature does not match."), code="signature_mismatch")
    now = time.time() if now is None else now
    if abs(now - timestamp) > WEBHOOK_TOLERANCE_SECONDS:
        raise InvalidWebhook(_("The webhook is too old (or from the future); refused as a replay."),
                             code="signature_expired")


def build_event(order_public_id: str, outcome: str, *, amount: int, currency: str) -> bytes:
    """The body the sandbox "sends" for a checkout outcome (``pay``, ``fail`` or ``cancel``)."""
    event = {
        "id": "evt_sbx_" + secrets.token_hex(12),
        "type": OUTCOMES[outcome],
        "created": int(time.time()),
        "data": {
            "order": order_public_id,
            "amount": amount,
            "currency": currency,
            "payment_ref": "sbx_pay_" + secrets.token_hex(8) if outcome == "pay" else "",
        },
    }
    return json.dumps(event, separators=(",", ":")).encode()


class SandboxProvider(PaymentProvider):
    name = "sandbox"
    label = "Sandbox (test payments)"

    def create_checkout(self, order) -> str:
        return reverse("payments:sandbox_checkout", args=[order.public_id])

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> WebhookEvent:
        verify(body, headers.get(SIGNATURE_HEADER))
        try:
            event = json.loads(body)
            data = event["data"]
            kind = _KINDS.get(event["type"], EventKind.IGNORED)
            event_id, order_id = str(event["id"]), str(data.get("order") or "")
            amount = data.get("amount")
            if not event_id or (amount is not None and (not isinstance(amount, int) or isinstance(amount, bool))):
                raise ValueError("bad fields")
        except (ValueError, KeyError, TypeError, AttributeError):
            raise InvalidWebhook(_("The webhook body is not a valid event."), code="malformed_event")
        return WebhookEvent(
            provider=self.name, event_id=event_id[:255], kind=kind, order_public_id=order_id[:64], amount=amount,
            currency=str(data.get("currency") or "").upper()[:3], provider_ref=str(data.get("payment_ref") or "")[:255],
            raw_type=str(event["type"])[:64],
        )

    def refund(self, order) -> str:
        return "sbx_refund_" + secrets.token_hex(8)
