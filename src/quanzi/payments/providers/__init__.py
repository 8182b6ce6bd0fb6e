"""Payment providers, by name. Which ones an instance offers: QUANZI_PAYMENT_PROVIDERS."""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext as _

from quanzi.core.errors import InvalidInput

from .base import EventKind, InvalidWebhook, PaymentProvider, WebhookEvent
from .manual import ManualProvider
from .sandbox import SandboxProvider
from .stripe_checkout import StripeProvider

PROVIDERS: dict[str, type[PaymentProvider]] = {
    SandboxProvider.name: SandboxProvider,
    StripeProvider.name: StripeProvider,
    ManualProvider.name: ManualProvider,
}

__all__ = ["EventKind", "InvalidWebhook", "PaymentProvider", "WebhookEvent", "enabled_providers", "get_provider"]


def enabled_providers() -> list[str]:
    return [name for name in settings.QUANZI_PAYMENT_PROVIDERS if name in PROVIDERS]


def get_provider(name: str) -> PaymentProvider:
    """An enabled provider; unknown or switched-off names are refused."""
    if not isinstance(name, str) or name not in enabled_providers():
        raise InvalidInput(_("Unknown or disabled payment provider."), code="unknown_provider")
    return PROVIDERS[name]()
