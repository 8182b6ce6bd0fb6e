"""Ledger fixtures: the accounts a paid circle uses, in CNY."""

from __future__ import annotations

import pytest

from quanzi.ledger.models import AccountKind
from quanzi.ledger.services import get_account, post_transaction


@pytest.fixture
def clearing(db):
    return get_account(AccountKind.PROVIDER_CLEARING, currency="CNY", provider="sandbox")


@pytest.fixture
def fees(db):
    return get_account(AccountKind.PLATFORM_FEES, currency="CNY")


@pytest.fixture
def pending(circle):
    return get_account(AccountKind.CIRCLE_PENDING, currency="CNY", circle=circle)


@pytest.fixture
def available(circle):
    return get_account(AccountKind.CIRCLE_AVAILABLE, currency="CNY", circle=circle)


@pytest.fixture
def wallet(member):
    return get_account(AccountKind.WALLET, currency="CNY", user=member)


@pytest.fixture
def funded_wallet(wallet, clearing):
    """A member wallet holding 10.00 CNY, topped up from the provider."""
    post_transaction(kind="top_up", legs=[(clearing, -1000), (wallet, 1000)], idempotency_key="fund-wallet")
    return wallet
