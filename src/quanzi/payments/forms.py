"""The wallet top-up form. Amounts are typed in major units ("50.00") and parsed exactly in the
chosen currency (:func:`quanzi.web.money.parse_major`); the rules stay in ``payments.actions``."""

from __future__ import annotations

import secrets

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from quanzi.ledger.currencies import CURRENCIES, DEFAULT_CURRENCY
from quanzi.web.money import parse_major

from .providers import enabled_providers

PROVIDER_LABELS = {"sandbox": _("Sandbox (test payment)"), "stripe": _("Card (Stripe)"),
                   "manual": _("Bank transfer or cash")}


def new_form_key() -> str:
    """One key per rendered form: a double submit (or a retried POST) creates one order."""
    return "web-topup-" + secrets.token_urlsafe(16)


class TopupForm(forms.Form):
    amount = forms.CharField(
        label=_("Amount"), max_length=32,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off", "placeholder": "50.00"}),
    )
    currency = forms.ChoiceField(label=_("Currency"), choices=[(c, c) for c in CURRENCIES],
                                 initial=DEFAULT_CURRENCY)
    provider = forms.ChoiceField(label=_("Pay with"))
    idempotency_key = forms.CharField(max_length=200, widget=forms.HiddenInput, initial=new_form_key)

    ERROR_FIELDS = {"invalid_amount": "amount", "invalid_currency": "currency", "unknown_provider": "provider"}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["provider"].choices = [(name, PROVIDER_LABELS.get(name, name)) for name in enabled_providers()]

    def clean(self):
        data = super().clean()
        if "amount" in data and "currency" in data:
            try:
                data["amount"] = parse_major(data["amount"], data["currency"])
            except ValidationError as error:
                self.add_error("amount", error)
        return data

    def add_domain_error(self, exc) -> None:
        field = self.ERROR_FIELDS.get(exc.code)
        self.add_error(field if field in self.fields else None, exc.message)
