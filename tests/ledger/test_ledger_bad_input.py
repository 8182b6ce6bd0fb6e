"""Every malformed or impossible posting is refused with a stable code and writes nothing.

``nothing_written`` snapshots transactions, entries and every account's cached balance
before the call and compares after it, so a half-written posting can't hide behind the
exception.
"""

from __future__ import annotations

from contextlib import contextmanager
from decimal import Decimal
from fractions import Fraction

import pytest
from django.db import IntegrityError, transaction

from quanzi.core.errors import Conflict, InvalidInput, NotFound, QuanziError
from quanzi.ledger.models import Account, AccountKind, Entry, Transaction
from quanzi.ledger.services import (
    MAX_AMOUNT,
    balance,
    get_account,
    post_transaction,
    reverse_transaction,
)


def snapshot() -> tuple:
    return (
        Transaction.objects.count(),
        Entry.objects.count(),
        sorted(Account.objects.values_list("pk", "balance", "entry_count")),
    )


@contextmanager
def nothing_written(error: type[QuanziError], code: str):
    before = snapshot()
    with pytest.raises(error) as caught:
        yield
    assert caught.value.code == code, caught.value.code
    assert caught.value.message  # a human sentence for the API / web layer
    assert snapshot() == before


@pytest.fixture
def usd_pending(circle):
    return get_account(AccountKind.CIRCLE_PENDING, currency="USD", circle=circle)


@pytest.mark.parametrize(
    "bad_amount",
    [100.0, 0.5, float("nan"), float("inf"), True, False, "100", b"100", Decimal("100"), Fraction(100, 1), None],
    ids=repr,
)
def test_non_integer_amounts_are_refused(clearing, pending, bad_amount):
    # The other leg balances numerically where Python allows it, so only the type is wrong.
    other = -bad_amount if isinstance(bad_amount, int | float | Decimal | Fraction) else -100
    with nothing_written(InvalidInput, "invalid_amount"):
        post_transaction(kind="payment", legs=[(pending, bad_amount), (clearing, other)], idempotency_key="bad")


def test_int_subclasses_other_than_int_are_refused(clearing, pending):
    class Cents(int):
        pass

    with nothing_written(InvalidInput, "invalid_amount"):
        post_transaction(kind="payment", legs=[(clearing, Cents(-5)), (pending, Cents(5))], idempotency_key="sub")


def test_zero_leg_is_refused(clearing, fees, pending):
    with nothing_written(InvalidInput, "invalid_amount"):
        post_transaction(kind="payment", legs=[(clearing, -100), (fees, 0), (pending, 100)], idempotency_key="zero-fee")


def test_negative_amount_where_it_would_overdraw_is_refused(clearing, fees, pending):
    """A sign error in the caller (fee subtracted instead of added) must not overdraw platform fees."""
    with nothing_written(Conflict, "insufficient_funds"):
        post_transaction(
            kind="payment", legs=[(clearing, -900), (fees, -100), (pending, 1000)], idempotency_key="sign-error"
        )


def test_amount_beyond_the_bound_is_refused(clearing, pending):
    with nothing_written(InvalidInput, "amount_too_large"):
        post_transaction(
            kind="payment",
            legs=[(clearing, -(MAX_AMOUNT + 1)), (pending, MAX_AMOUNT + 1)],
            idempotency_key="huge",
        )


def test_mixed_currencies_are_refused(clearing, usd_pending):
    with nothing_written(InvalidInput, "currency_mismatch"):
        post_transaction(kind="payment", legs=[(clearing, -100), (usd_pending, 100)], idempotency_key="mixed")


def test_a_stale_account_object_cannot_smuggle_in_another_currency(clearing, pending):
    """The currency check is repeated on the locked rows, not only on the caller's objects."""
    disguised = Account.objects.get(pk=get_account(AccountKind.PLATFORM_FEES, currency="USD").pk)
    disguised.currency = "CNY"
    with nothing_written(InvalidInput, "currency_mismatch"):
        post_transaction(kind="payment", legs=[(clearing, -100), (disguised, 100)], idempotency_key="disguised")


def test_unknown_currency_is_refused_by_the_service_and_the_database(db):
    with nothing_written(InvalidInput, "invalid_currency"):
        get_account(AccountKind.PLATFORM_FEES, currency="BTC")
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.create(key="forged", kind=AccountKind.PLATFORM_FEES, currency="BTC")


@pytest.mark.parametrize("delta", [1, -1, 10**6])
def test_legs_that_do_not_sum_to_zero_are_refused(clearing, fees, pending, delta):
    with nothing_written(InvalidInput, "unbalanced"):
        post_transaction(
            kind="payment", legs=[(clearing, -1000), (fees, 50), (pending, 950 + delta)], idempotency_key="unbal"
        )


@pytest.mark.parametrize(
    "make_legs",
    [
        lambda a, b: [],
        lambda a, b: [(a, 0)],
        lambda a, b: [(a, -5)],
        lambda a, b: [(a, -5, 1), (b, 5)],
        lambda a, b: [a, b],
        lambda a, b: "legs",
        lambda a, b: {a: -5, b: 5},
        lambda a, b: None,
        lambda a, b: [(a, -1)] + [(a, 1)] * 20,
    ],
    ids=["empty", "one-zero", "one-leg", "triple", "bare-accounts", "string", "dict", "none", "too-many"],
)
def test_malformed_legs_are_refused(clearing, pending, make_legs):
    with nothing_written(InvalidInput, "invalid_legs"):
        post_transaction(kind="payment", legs=make_legs(clearing, pending), idempotency_key="shape")


def test_an_account_twice_is_refused(funded_wallet, pending):
    with nothing_written(InvalidInput, "duplicate_account"):
        post_transaction(
            kind="transfer",
            legs=[(funded_wallet, -100), (funded_wallet, 100)],
            idempotency_key="self-transfer",
        )


def test_unsaved_or_foreign_objects_as_accounts_are_refused(clearing, pending, member):
    unsaved = Account(kind=AccountKind.PLATFORM_FEES, currency="CNY")
    for impostor in (unsaved, member, pending.pk, None):
        with nothing_written(InvalidInput, "invalid_account"):
            post_transaction(kind="payment", legs=[(clearing, -1), (impostor, 1)], idempotency_key="who")


def test_an_account_deleted_behind_the_callers_back_is_not_found(clearing, fees):
    ghost = Account(pk=10**12, kind=AccountKind.PLATFORM_FEES, currency="CNY")
    with nothing_written(NotFound, "account_not_found"):
        post_transaction(kind="payment", legs=[(clearing, -1), (ghost, 1)], idempotency_key="ghost")


def test_overdraft_on_a_non_negative_account_is_refused(funded_wallet, pending):
    with nothing_written(Conflict, "insufficient_funds"):
        post_transaction(kind="wallet_payment", legs=[(funded_wallet, -1001), (pending, 1001)], idempotency_key="od")
    assert balance(funded_wallet) == 1000


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("idempotency_key", "", "invalid_idempotency_key"),
        ("idempotency_key", "has space", "invalid_idempotency_key"),
        ("idempotency_key", "nul\x00", "invalid_idempotency_key"),
        ("idempotency_key", "x" * 201, "invalid_idempotency_key"),
        ("idempotency_key", 42, "invalid_idempotency_key"),
        ("kind", "", "invalid_kind"),
        ("kind", "Payment!", "invalid_kind"),
        ("kind", None, "invalid_kind"),
        ("memo", "m" * 501, "invalid_memo"),
        ("memo", "nul\x00", "invalid_memo"),
        ("memo", None, "invalid_memo"),
        ("metadata", [1, 2], "invalid_metadata"),
        ("metadata", {"when": object()}, "invalid_metadata"),
        ("metadata", {"x": float("nan")}, "invalid_metadata"),
        ("metadata", {"x": "y" * 9000}, "invalid_metadata"),
        ("metadata", {"x": "nul\x00"}, "invalid_metadata"),
    ],
)
def test_bad_transaction_fields_are_refused(clearing, pending, field, value, code):
    call = {"kind": "payment", "legs": [(clearing, -10), (pending, 10)], "idempotency_key": "ok-key"}
    call[field] = value
    with nothing_written(InvalidInput, code):
        post_transaction(**call)


def test_reused_key_with_different_legs_is_a_conflict(clearing, fees, pending):
    post_transaction(kind="payment", legs=[(clearing, -1000), (pending, 1000)], idempotency_key="order:7")
    variants = [
        {"kind": "payment", "legs": [(clearing, -1001), (pending, 1001)]},  # other amount
        {"kind": "payment", "legs": [(clearing, -1000), (fees, 50), (pending, 950)]},  # other split
        {"kind": "payment", "legs": [(clearing, -1000), (fees, 1000)]},  # other account
        {"kind": "top_up", "legs": [(clearing, -1000), (pending, 1000)]},  # other kind
    ]
    for variant in variants:
        with nothing_written(Conflict, "idempotency_mismatch"):
            post_transaction(idempotency_key="order:7", **variant)
    # A reversal may not reuse a payment's key either.
    payment = Transaction.objects.get(idempotency_key="order:7")
    with nothing_written(Conflict, "idempotency_mismatch"):
        reverse_transaction(transaction=payment, idempotency_key="order:7")


def test_double_reversal_is_refused(clearing, pending):
    payment = post_transaction(kind="payment", legs=[(clearing, -500), (pending, 500)], idempotency_key="p")
    reversal = reverse_transaction(transaction=payment, idempotency_key="r1")
    with nothing_written(Conflict, "already_reversed"):
        reverse_transaction(transaction=payment, idempotency_key="r2")
    with nothing_written(Conflict, "cannot_reverse_reversal"):
        reverse_transaction(transaction=reversal, idempotency_key="r3")
    # A reversal key reused for another transaction's reversal is a mismatch, not a replay.
    other = post_transaction(kind="payment", legs=[(clearing, -500), (pending, 500)], idempotency_key="p2")
    with nothing_written(Conflict, "idempotency_mismatch"):
        reverse_transaction(transaction=other, idempotency_key="r1")


def test_reversal_of_money_that_moved_on_is_refused(clearing, pending, available):
    payment = post_transaction(kind="payment", legs=[(clearing, -500), (pending, 500)], idempotency_key="p")
    post_transaction(kind="release", legs=[(pending, -500), (available, 500)], idempotency_key="rel")
    with nothing_written(Conflict, "insufficient_funds"):
        reverse_transaction(transaction=payment, idempotency_key="late-refund")


def test_reversing_something_that_is_not_a_posted_transaction(clearing, pending):
    with nothing_written(InvalidInput, "invalid_transaction"):
        reverse_transaction(transaction=Transaction(kind="payment", idempotency_key="x"), idempotency_key="r")
    with nothing_written(InvalidInput, "invalid_transaction"):
        reverse_transaction(transaction=1, idempotency_key="r")
    with nothing_written(NotFound, "transaction_not_found"):
        reverse_transaction(transaction=Transaction(pk=10**12, kind="payment"), idempotency_key="r")


def test_database_constraints_back_the_code(clearing, pending):
    """If a bug bypassed the services, the database still refuses zero entries, duplicate keys
    and negative balances on accounts that must not go negative."""
    txn = post_transaction(kind="payment", legs=[(clearing, -5), (pending, 5)], idempotency_key="c")
    with pytest.raises(IntegrityError), transaction.atomic():
        Entry.objects.bulk_create(
            [Entry(transaction=txn, account=get_account("platform_fees", currency="CNY"), amount=0)]
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        Transaction.objects.bulk_create([Transaction(kind="payment", idempotency_key="c")])
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.filter(pk=pending.pk).update(balance=-1)
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.filter(pk=clearing.pk).update(entry_count=-1)
    Account.objects.filter(pk=clearing.pk).update(balance=-(10**9))  # clearing may go negative
