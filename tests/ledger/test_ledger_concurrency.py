"""Real parallel connections posting to the same accounts (PostgreSQL only).

``select_for_update`` is a no-op on SQLite (whose IMMEDIATE transactions serialise every
writer anyway), so these run in the PostgreSQL pass of ``make test`` and are skipped, with
the reason shown, on SQLite.

Threads are capped at 25 (each holds its own connection; the server allows 100 and other
test runs may share it); each thread posts several times, so e.g. "100 postings" are 100
postings in flight from 25 connections, all released by one barrier.
"""

from __future__ import annotations

from collections import Counter

import pytest
from django.conf import settings
from racing import MAX_THREADS, outcomes, race

from quanzi.ledger.models import Account, AccountKind, Transaction
from quanzi.ledger.services import (
    balance,
    currency_totals,
    get_account,
    post_transaction,
    reverse_transaction,
    verify_balances,
    verify_transactions,
)

pytestmark = [
    pytest.mark.skipif(
        not settings.IS_POSTGRES,
        reason="row locks (select_for_update) are a no-op on SQLite; these races run against PostgreSQL "
        "(set QUANZI_DATABASE_URL, as the second `make test` pass does)",
    ),
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(90),
]

THREADS = MAX_THREADS


def assert_ledger_consistent() -> None:
    assert verify_balances() == []
    assert verify_transactions() == []
    assert all(total == 0 for total in currency_totals().values())
    assert not Account.objects.filter(allow_negative=False, balance__lt=0).exists()


def test_100_parallel_spends_never_overdraw(funded_wallet, pending):
    """The wallet holds 10.00; 100 postings of 0.30 race for it: exactly 33 succeed."""
    results = race(
        100,
        lambda i: (
            post_transaction(
                kind="wallet_payment", legs=[(funded_wallet, -30), (pending, 30)], idempotency_key=f"spend:{i}"
            ).pk
        ),
    )
    assert outcomes(results) == Counter({"ok": 33, "error:insufficient_funds": 67}), outcomes(results)
    assert balance(funded_wallet) == 1000 - 33 * 30
    assert balance(pending) == 33 * 30
    assert Transaction.objects.filter(kind="wallet_payment").count() == 33
    assert_ledger_consistent()


def test_50_parallel_posts_with_one_key_post_once(clearing, fees, pending):
    """A webhook delivered 50 times at once: one transaction, every caller gets it back."""
    results = race(
        50,
        lambda i: (
            post_transaction(
                kind="payment",
                legs=[(clearing, -10000), (fees, 500), (pending, 9500)],
                idempotency_key="order:42:payment",
            ).pk
        ),
    )
    assert outcomes(results) == Counter({"ok": 50}), outcomes(results)
    assert len({pk for _kind, pk in results}) == 1
    assert Transaction.objects.count() == 1
    assert (balance(clearing), balance(fees), balance(pending)) == (-10000, 500, 9500)
    assert_ledger_consistent()


def test_one_key_with_different_legs_on_disjoint_accounts_posts_once(clearing, circle, make_user):
    """No shared account means no shared lock: the unique key itself must decide the race."""
    wallets = [get_account(AccountKind.WALLET, currency="CNY", user=make_user(f"w{i}")) for i in range(THREADS)]
    clearings = [get_account(AccountKind.PROVIDER_CLEARING, currency="CNY", provider=f"p{i}") for i in range(THREADS)]
    results = race(
        THREADS,
        lambda i: (
            post_transaction(
                kind="top_up", legs=[(clearings[i], -100), (wallets[i], 100)], idempotency_key="shared-key"
            ).pk
        ),
    )
    assert outcomes(results) == Counter({"ok": 1, "error:idempotency_mismatch": THREADS - 1}), outcomes(results)
    assert Transaction.objects.count() == 1
    assert sum(balance(w) for w in wallets) == 100
    assert_ledger_consistent()


def test_opposite_transfers_do_not_deadlock(make_user, clearing):
    """A→B and B→A in parallel lock the same two rows; id order makes them queue, not deadlock."""
    a = get_account(AccountKind.WALLET, currency="CNY", user=make_user("alice"))
    b = get_account(AccountKind.WALLET, currency="CNY", user=make_user("bob"))
    c = get_account(AccountKind.WALLET, currency="CNY", user=make_user("carol"))
    for wallet in (a, b, c):
        post_transaction(kind="top_up", legs=[(clearing, -1000), (wallet, 1000)], idempotency_key=f"fund:{wallet.pk}")
    # A cycle of three-way postings as well as pairs, with legs listed in varying order.
    moves = [
        [(a, -7), (b, 7)],
        [(b, -5), (a, 5)],
        [(c, 3), (b, -1), (a, -2)],
        [(a, 4), (c, -4)],
    ]
    results = race(100, lambda i: post_transaction(kind="transfer", legs=moves[i % 4], idempotency_key=f"t:{i}").pk)
    assert outcomes(results) == Counter({"ok": 100}), outcomes(results)
    # 25 rounds of each move.
    assert balance(a) == 1000 + 25 * (-7 + 5 - 2 + 4)
    assert balance(b) == 1000 + 25 * (7 - 5 - 1)
    assert balance(c) == 1000 + 25 * (3 - 4)
    assert_ledger_consistent()


def test_parallel_refunds_reverse_once(clearing, fees, pending):
    payment = post_transaction(
        kind="payment", legs=[(clearing, -1000), (fees, 50), (pending, 950)], idempotency_key="pay"
    )
    results = race(THREADS, lambda i: reverse_transaction(transaction=payment, idempotency_key=f"refund:{i}").pk)
    assert outcomes(results) == Counter({"ok": 1, "error:already_reversed": THREADS - 1}), outcomes(results)
    assert Transaction.objects.filter(reverses=payment).count() == 1
    assert (balance(clearing), balance(fees), balance(pending)) == (0, 0, 0)
    assert_ledger_consistent()


def test_parallel_get_account_creates_one_account(circle):
    results = race(THREADS, lambda i: get_account(AccountKind.CIRCLE_AVAILABLE, currency="HKD", circle=circle).pk)
    assert outcomes(results) == Counter({"ok": THREADS}), outcomes(results)
    assert len({pk for _kind, pk in results}) == 1
    assert Account.objects.filter(kind=AccountKind.CIRCLE_AVAILABLE, currency="HKD").count() == 1
