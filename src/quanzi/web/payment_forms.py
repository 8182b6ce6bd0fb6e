"""Forms of the payment screens. Amounts are typed in major units ("99.00") and parsed exactly
(:mod:`quanzi.web.money`); the money rules themselves stay in ``payments.actions``."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from quanzi.circles.models import ExpiryAction
from quanzi.ledger.currencies import CURRENCIES
from quanzi.payments.actions import MAX_REFUND_WINDOW_HOURS, MAX_REMINDER_DAYS
from quanzi.payments.models import MAX_TRIAL_DAYS, PlanKind

from .money import parse_major, to_major_text


class DomainErrorsMixin:
    ERROR_FIELDS: dict[str, str] = {}

    def add_domain_error(self, exc) -> None:
        field = self.ERROR_FIELDS.get(exc.code)
        self.add_error(field if field in self.fields else None, exc.message)


class AmountField(forms.CharField):
    """A price in the currency's major units, cleaned to an int of minor units."""

    def __init__(self, *, currency: str = "CNY", allow_zero: bool = False, **kwargs) -> None:
        kwargs.setdefault("max_length", 32)
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}))
        super().__init__(**kwargs)
        self.currency = currency
        self.allow_zero = allow_zero

    def prepare_value(self, value):
        if isinstance(value, int) and not isinstance(value, bool):
            return to_major_text(value, self.currency)
        return value

    def clean(self, value):
        text = super().clean(value)
        if text in self.empty_values:
            return None
        return parse_major(text, self.currency, allow_zero=self.allow_zero)


class PaymentSettingsForm(DomainErrorsMixin, forms.Form):
    currency = forms.ChoiceField(label=_("Currency"), choices=[(c, c) for c in CURRENCIES])
    refund_window_hours = forms.IntegerField(
        label=_("Refund window (hours)"), min_value=0, max_value=MAX_REFUND_WINDOW_HOURS,
        help_text=_("Payers can refund themselves for this long; then the revenue becomes available."),
    )
    expiry_action = forms.ChoiceField(label=_("When a paid membership expires"), choices=ExpiryAction.choices)
    renewal_reminder_days = forms.IntegerField(
        label=_("Renewal reminder (days before expiry)"), min_value=0, max_value=MAX_REMINDER_DAYS
    )
    ERROR_FIELDS = {
        "invalid_currency": "currency",
        "currency_mismatch": "currency",
        "invalid_refund_window": "refund_window_hours",
        "invalid_expiry_action": "expiry_action",
        "invalid_reminder_days": "renewal_reminder_days",
    }


class PlanForm(DomainErrorsMixin, forms.Form):
    """Create a plan (with ``kind``) or edit one (``kind`` fixed: pass ``kind=``)."""

    name = forms.CharField(label=_("Plan name"), max_length=80)
    kind = forms.ChoiceField(label=_("Billing"), choices=PlanKind.choices, initial=PlanKind.YEARLY)
    amount = AmountField(label=_("Price"), required=False,
                         help_text=_("For example 99.00. Empty only for a free plan."))
    trial_days = forms.IntegerField(label=_("Trial days"), min_value=0, max_value=MAX_TRIAL_DAYS, initial=0,
                                    required=False)
    ERROR_FIELDS = {
        "invalid_name": "name",
        "invalid_kind": "kind",
        "invalid_amount": "amount",
        "invalid_trial_days": "trial_days",
        "currency_mismatch": "amount",
    }

    def __init__(self, *args, currency: str, kind: str | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fixed_kind = kind
        self.fields["amount"].currency = currency
        self.fields["amount"].label = _("Price (%(currency)s)") % {"currency": currency}
        if kind is not None:
            del self.fields["kind"]

    def clean(self):
        data = super().clean()
        kind = self.fixed_kind or data.get("kind")
        amount = data.get("amount")
        if kind == PlanKind.FREE:
            if amount:
                self.add_error("amount", _("A free plan costs nothing."))
            data["amount"] = 0
        elif kind and "amount" not in self.errors and amount is None:
            self.add_error("amount", _("Enter the price."))
        data["trial_days"] = data.get("trial_days") or 0
        return data


class OrderForm(forms.Form):
    plan = forms.IntegerField(min_value=1)
    provider = forms.CharField(max_length=32)
    idempotency_key = forms.CharField(max_length=200)


class PayoutForm(DomainErrorsMixin, forms.Form):
    amount = AmountField(label=_("Amount"))
    note = forms.CharField(label=_("Note"), max_length=500, required=False,
                           help_text=_("Where to send it, e.g. the bank account."))
    ERROR_FIELDS = {"invalid_amount": "amount", "insufficient_funds": "amount"}

    def __init__(self, *args, currency: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["amount"].currency = currency
        self.fields["amount"].label = _("Amount (%(currency)s)") % {"currency": currency}


class PayoutDecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("paid", "paid"), ("reject", "reject")])
    text = forms.CharField(max_length=200, required=False)
