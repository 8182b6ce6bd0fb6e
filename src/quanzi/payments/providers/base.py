"""The one interface every payment provider implements.

A provider turns an order into a checkout address, turns a webhook delivery into a
verified :class:`WebhookEvent` (or refuses it), and refunds a paid order. Everything
else — the ledger postings, the membership, idempotency — happens once, in
``payments.actions`` and ``payments.webhooks``, for every provider alike.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from quanzi.core.errors import QuanziError

if TYPE_CHECKING:
    from quanzi.payments.models import Order

# Deliveries signed longer ago than this (or this far in the future) are refused as replays.
WEBHOOK_TOLERANCE_SECONDS = 300


class InvalidWebhook(QuanziError):
    """A forged, stale or malformed delivery: answered with 400 and nothing is recorded."""

    status = 400
    code = "invalid_webhook"


class EventKind(StrEnum):
    PAID = "paid"
    FAILED = "failed"
    CANCELLED = "cancelled"
    IGNORED = "ignored"  # an event type we don't act on (answered 200, not recorded)


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """A verified provider event, in our terms."""

    provider: str
    event_id: str
    kind: EventKind
    order_public_id: str = ""
    amount: int | None = None
    currency: str = ""
    provider_ref: str = ""
    raw_type: str = ""
    data: dict[str, Any] = field(default_factory=dict)


class PaymentProvider(ABC):
    name: str = ""
    label: str = ""
    # Manual payments have no webhook: an admin confirms receipt (do_confirm_manual_payment).
    confirms_manually: bool = False

    @abstractmethod
    def create_checkout(self, order: Order) -> str:
        """Where the payer goes to pay (a URL); empty when there is nothing to visit."""

    @abstractmethod
    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> WebhookEvent:
        """Verify the signature and timestamp, then parse; raise :class:`InvalidWebhook` otherwise."""

    @abstractmethod
    def refund(self, order: Order) -> str:
        """Give the money back through the provider; the provider's refund reference."""
