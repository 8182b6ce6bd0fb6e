"""Manual payments: bank transfer or cash. There is no checkout page and no webhook — a
circle admin confirms receipt (``payments.actions.do_confirm_manual_payment``) and hands
the money back themself on a refund."""

from __future__ import annotations

from collections.abc import Mapping

from django.utils.translation import gettext as _

from .base import InvalidWebhook, PaymentProvider, WebhookEvent


class ManualProvider(PaymentProvider):
    name = "manual"
    label = "Bank transfer or cash (confirmed by an admin)"
    confirms_manually = True

    def create_checkout(self, order) -> str:
        return ""

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> WebhookEvent:
        raise InvalidWebhook(_("Manual payments have no webhooks."), code="no_webhooks")

    def refund(self, order) -> str:
        return ""
