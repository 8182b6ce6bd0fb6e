"""One handler for every provider's webhook deliveries (and the sandbox checkout's simulated ones).

Order of work: verify (signature and timestamp, by the provider) → lock the order row →
record the event id (unique per provider) → act. A forged, stale or inconsistent delivery
raises :class:`InvalidWebhook` before anything is written, or rolls back what was; a
duplicate delivery finds its event id already recorded — under the order's row lock, so
200 parallel copies still act once.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from quanzi.core.errors import NotFound

from . import actions
from .models import Order, OrderStatus, ProcessedWebhook
from .providers import PROVIDERS, EventKind, InvalidWebhook, WebhookEvent, enabled_providers

logger = logging.getLogger(__name__)


def handle_webhook(provider_name: str, body: bytes, headers: Mapping[str, str]) -> str:
    """Verify and process one delivery; ``processed``, ``duplicate`` or ``ignored``."""
    if provider_name not in enabled_providers():
        raise NotFound(_("No such payment provider."), code="unknown_provider")
    event = PROVIDERS[provider_name]().parse_webhook(body, headers)
    return process_event(event)


@transaction.atomic
def process_event(event: WebhookEvent) -> str:
    if event.kind == EventKind.IGNORED or not event.order_public_id:
        return "ignored"
    order = (
        Order.objects.select_for_update()
        .filter(public_id=event.order_public_id, provider=event.provider)
        .first()
    )
    if order is None:
        logger.info("%s webhook %s names no order of ours", event.provider, event.event_id)
        return "ignored"
    if ProcessedWebhook.objects.filter(provider=event.provider, event_id=event.event_id).exists():
        return "duplicate"
    if event.kind == EventKind.PAID and (
        (event.amount is not None and event.amount != order.amount)
        or (event.currency and event.currency != order.currency)
    ):
        raise InvalidWebhook(_("The paid amount does not match the order."), code="amount_mismatch")
    try:
        with transaction.atomic():
            ProcessedWebhook.objects.create(
                provider=event.provider, event_id=event.event_id, event_type=event.raw_type or event.kind, order=order
            )
    except IntegrityError:
        return "duplicate"
    if event.kind == EventKind.PAID:
        actions.do_mark_order_paid(order=order, provider_ref=event.provider_ref)
    elif order.status == OrderStatus.PENDING:
        status = OrderStatus.FAILED if event.kind == EventKind.FAILED else OrderStatus.CANCELLED
        actions.do_close_order(order=order, status=status)
    return "processed"
