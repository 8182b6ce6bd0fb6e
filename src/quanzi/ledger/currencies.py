"""The currencies the ledger accepts and their minor-unit exponents (ISO 4217).

A small built-in list instead of a dependency: every code here is also written into a
database CHECK constraint, so adding one is a deliberate change with a migration.
"""

from __future__ import annotations

DEFAULT_CURRENCY = "CNY"

# code -> number of digits after the decimal point (fen, cents; JPY and KRW have none).
MINOR_UNITS: dict[str, int] = {
    "CNY": 2,
    "USD": 2,
    "EUR": 2,
    "HKD": 2,
    "TWD": 2,
    "MOP": 2,
    "JPY": 0,
    "KRW": 0,
    "GBP": 2,
    "SGD": 2,
    "AUD": 2,
    "CAD": 2,
    "CHF": 2,
    "MYR": 2,
    "THB": 2,
    "NZD": 2,
}

CURRENCIES: tuple[str, ...] = tuple(sorted(MINOR_UNITS))


def is_currency(code: object) -> bool:
    return isinstance(code, str) and code in MINOR_UNITS
