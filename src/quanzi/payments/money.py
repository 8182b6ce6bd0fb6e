"""Showing amounts: integer minor units → "19.99 CNY" (JPY and KRW have no minor unit)."""

from __future__ import annotations

from quanzi.ledger.currencies import MINOR_UNITS


def format_amount(amount: int, currency: str) -> str:
    digits = MINOR_UNITS.get(currency, 2)
    sign = "-" if amount < 0 else ""
    whole, part = divmod(abs(amount), 10**digits)
    text = f"{whole:,}" + (f".{part:0{digits}d}" if digits else "")
    return f"{sign}{text} {currency}"
