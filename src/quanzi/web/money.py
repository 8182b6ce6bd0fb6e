"""Money as people read and type it: "¥99.00" on the page, "99.00" in a form, integers in minor units inside.

Parsing goes through :class:`~decimal.Decimal` (never floats), so "19.99" is exactly 1999 fen,
and refuses more decimals than the currency has instead of rounding.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from quanzi.ledger.currencies import MINOR_UNITS

SYMBOLS = {
    "CNY": "¥", "JPY": "¥", "USD": "$", "EUR": "€", "GBP": "£", "HKD": "HK$", "TWD": "NT$", "MOP": "MOP$",
    "KRW": "₩", "SGD": "S$", "AUD": "A$", "CAD": "C$", "CHF": "CHF ", "MYR": "RM", "THB": "฿", "NZD": "NZ$",
}

AMOUNT_RE = re.compile(r"[0-9]{1,15}(\.[0-9]{1,15})?", re.ASCII)


def digits(currency: str) -> int:
    return MINOR_UNITS.get(currency, 2)


def to_major_text(amount: int, currency: str) -> str:
    """Minor units → "99.00" (no symbol, no grouping): what a form field shows."""
    places = digits(currency)
    sign = "-" if amount < 0 else ""
    whole, part = divmod(abs(int(amount)), 10**places)
    return f"{sign}{whole}" + (f".{part:0{places}d}" if places else "")


def format_money(amount: int, currency: str) -> str:
    """Minor units → "¥99.00", "$9.99", "-¥1,234.50"."""
    places = digits(currency)
    sign = "-" if amount < 0 else ""
    whole, part = divmod(abs(int(amount)), 10**places)
    text = f"{whole:,}" + (f".{part:0{places}d}" if places else "")
    return f"{sign}{SYMBOLS.get(currency, currency + ' ')}{text}"


def parse_major(text: str, currency: str, *, allow_zero: bool = False) -> int:
    """ "99", "99.5", "99.00" → minor units. Refuses negatives, zero (unless allowed), and more
    decimals than the currency has ("9.999" CNY, "1.5" JPY)."""
    cleaned = (text or "").strip().replace(",", "")
    if cleaned.startswith("-") and AMOUNT_RE.fullmatch(cleaned[1:]):
        raise ValidationError(_("The amount cannot be negative."), code="negative_amount")
    if not AMOUNT_RE.fullmatch(cleaned):
        raise ValidationError(_("Enter an amount such as 99.00."), code="invalid_amount")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise ValidationError(_("Enter an amount such as 99.00."), code="invalid_amount")
    if not value.is_finite():
        raise ValidationError(_("Enter an amount such as 99.00."), code="invalid_amount")
    places = digits(currency)
    if value.as_tuple().exponent < -places:
        if places:
            message = _("%(currency)s amounts have at most %(n)d decimals.") % {"currency": currency, "n": places}
        else:
            message = _("%(currency)s amounts have no decimals.") % {"currency": currency}
        raise ValidationError(message, code="too_many_decimals")
    if value < 0:
        raise ValidationError(_("The amount cannot be negative."), code="negative_amount")
    if value == 0 and not allow_zero:
        raise ValidationError(_("The amount must be more than zero."), code="zero_amount")
    minor = value.scaleb(places)
    if minor > 10**12:
        raise ValidationError(_("That amount is too large."), code="amount_too_large")
    return int(minor)
