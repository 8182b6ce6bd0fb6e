from django.apps import AppConfig
from django.core import checks
from django.utils.translation import gettext_lazy as _


class PaymentsConfig(AppConfig):
    name = "quanzi.payments"
    label = "payments"
    verbose_name = _("Payments")

    def ready(self) -> None:
        checks.register(check_payment_settings, checks.Tags.security, deploy=True)


def check_payment_settings(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """``check --deploy``: the sandbox lets any payer mark their own order paid; production must not offer it."""
    from django.conf import settings

    found: list[checks.CheckMessage] = []
    if "sandbox" in settings.QUANZI_PAYMENT_PROVIDERS and not settings.DEBUG:
        found.append(checks.Warning(
            "The sandbox payment provider is enabled: anyone can \"pay\" without money moving.",
            hint="Set QUANZI_PAYMENT_PROVIDERS, e.g. to stripe,manual.", id="quanzi.payments.W001",
        ))
    if "stripe" in settings.QUANZI_PAYMENT_PROVIDERS and not (
        settings.QUANZI_STRIPE_SECRET_KEY and settings.QUANZI_STRIPE_WEBHOOK_SECRET
    ):
        found.append(checks.Error(
            "Stripe is enabled without QUANZI_STRIPE_SECRET_KEY and QUANZI_STRIPE_WEBHOOK_SECRET.",
            id="quanzi.payments.E001",
        ))
    if not 0 <= settings.QUANZI_PLATFORM_FEE_BPS <= 10_000:
        found.append(checks.Error("QUANZI_PLATFORM_FEE_BPS must be 0 to 10000 (basis points).",
                                  id="quanzi.payments.E002"))
    return found
