"""The ledger's happy paths: accounts, a captured payment, idempotent replay, reversal."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from quanzi.core.errors import Conflict, InvalidInput
from quanzi.ledger.models import Account, AccountKind, Entry, Transaction
from quanzi.ledger.services import (
    balance,
    currency_totals,
    get_account,
    post_transaction,
    reverse_transaction,
    verify_balances,
    verify_transactions,
)


def test_get_account_returns_the_same_account_and_only_clearing_may_go_negative(circle, member, clearing):
    wallet = get_account(AccountKind.WALLET, currency="CNY", user=member)
    assert get_account("wallet", currency="CNY", user=member) == wallet
    assert get_account(AccountKind.WALLET, currency="USD", user=member) != wallet
    assert clearing.allow_negative is True
    assert wallet.allow_negative is False
    assert get_account(AccountKind.CIRCLE_PENDING, currency="CNY", circle=circle).allow_negative is False


@pytest.mark.parametrize(
    ("kind", "scope"),
    [
        (AccountKind.WALLET, {}),  # a wallet needs its member
        (AccountKind.WALLET, {"circle": True}),
        (AccountKind.CIRCLE_PENDING, {"user": True}),
        (AccountKind.PLATFORM_FEES, {"circle": True}),
        (AccountKind.PROVIDER_CLEARING, {}),
        (AccountKind.PROVIDER_CLEARING, {"provider": "Not A Slug"}),
    ],
)
def test_get_account_refuses_the_wrong_owner(kind, scope, circle, member):
    resolved = {
        key: (circle if key == "circle" else member if key == "user" else value) for key, value in scope.items()
    }
    with pytest.raises(InvalidInput) as caught:
        get_account(kind, currency="CNY", **resolved)
    assert caught.value.code == "invalid_scope"
    assert not Account.objects.filter(kind=kind).exists()


@pytest.mark.parametrize("currency", ["XYZ", "cny", "CN", "", None, 156])
def test_get_account_refuses_unknown_currency(db, currency):
    with pytest.raises(InvalidInput) as caught:
        get_account(AccountKind.PLATFORM_FEES, currency=currency)
    assert caught.value.code == "invalid_currency"


def test_get_account_refuses_unknown_kind(db):
    with pytest.raises(InvalidInput) as caught:
        get_account("savings", currency="CNY")
    assert caught.value.code == "invalid_kind"


def test_captured_payment_moves_money_and_caches_balances(clearing, fees, pending):
    txn = post_transaction(
        kind="payment",
        legs=[(clearing, -10000), (fees, 500), (pending, 9500)],
        idempotency_key="order:1:payment",
        memo="Yearly plan",
        metadata={"order": "1"},
    )
    assert sorted(txn.entries.values_list("amount", flat=True)) == [-10000, 500, 9500]
    assert (balance(clearing), balance(fees), balance(pending)) == (-10000, 500, 9500)
    assert (clearing.balance, fees.balance, pending.balance) == (-10000, 500, 9500)  # caller's objects refreshed
    assert pending.entry_count == 1
    assert verify_balances() == []
    assert verify_transactions() == []
    assert currency_totals() == {"CNY": 0}


def test_replaying_a_key_returns_the_first_transaction(clearing, pending):
    legs = [(clearing, -300), (pending, 300)]
    first = post_transaction(kind="payment", legs=legs, idempotency_key="k1")
    again = post_transaction(kind="payment", legs=list(reversed(legs)), idempotency_key="k1")
    assert again.pk == first.pk
    assert Transaction.objects.count() == 1
    assert balance(pending) == 300


def test_reversal_negates_the_legs_once_and_is_idempotent(clearing, fees, pending):
    payment = post_transaction(
        kind="payment", legs=[(clearing, -1000), (fees, 50), (pending, 950)], idempotency_key="pay"
    )
    refund = reverse_transaction(transaction=payment, idempotency_key="refund", memo="Refund")
    assert refund.reverses_id == payment.pk
    assert sorted(refund.entries.values_list("account_id", "amount")) == sorted(
        [(clearing.pk, 1000), (fees.pk, -50), (pending.pk, -950)]
    )
    assert (balance(clearing), balance(fees), balance(pending)) == (0, 0, 0)
    assert reverse_transaction(transaction=payment, idempotency_key="refund").pk == refund.pk
    with pytest.raises(Conflict) as caught:
        reverse_transaction(transaction=payment, idempotency_key="refund-again")
    assert caught.value.code == "already_reversed"
    assert verify_balances() == []


def test_overdraft_is_refused_and_writes_nothing(funded_wallet, pending):
    with pytest.raises(Conflict) as caught:
        post_transaction(kind="transfer", legs=[(funded_wallet, -1001), (pending, 1001)], idempotency_key="too-much")
    assert caught.value.code == "insufficient_funds"
    assert balance(funded_wallet) == 1000
    assert not Transaction.objects.filter(idempotency_key="too-much").exists()
    post_transaction(kind="transfer", legs=[(funded_wallet, -1000), (pending, 1000)], idempotency_key="exact")
    assert balance(funded_wallet) == 0


def test_entries_and_transactions_cannot_be_changed_or_deleted(clearing, pending):
    txn = post_transaction(kind="payment", legs=[(clearing, -1), (pending, 1)], idempotency_key="imm")
    entry = txn.entries.first()
    entry.amount = 5
    for attempt in (
        entry.save,
        entry.delete,
        txn.save,
        txn.delete,
        pending.delete,
        pending.save,
        lambda: Entry.objects.filter(pk=entry.pk).update(amount=2),
        lambda: Entry.objects.all().delete(),
        lambda: Transaction.objects.update(memo="x"),
    ):
        with pytest.raises(Conflict) as caught:
            attempt()
        assert caught.value.code == "ledger_immutable"
    assert list(Entry.objects.filter(transaction=txn).values_list("amount", flat=True).order_by("amount")) == [-1, 1]


def test_ledger_verify_command_reports_a_tampered_balance(clearing, pending, capsys):
    post_transaction(kind="payment", legs=[(clearing, -700), (pending, 700)], idempotency_key="v1")
    call_command("ledger_verify")
    assert "ledger OK" in capsys.readouterr().out
    # Simulate a bug that wrote the cache outside the services.
    Account.objects.filter(pk=pending.pk).update(balance=699)
    with pytest.raises(CommandError):
        call_command("ledger_verify")
    out = capsys.readouterr().out
    assert f"account {pending.pk}" in out and "699" in out and "700" in out
    assert currency_totals() == {"CNY": -1}


def test_admin_shows_the_ledger_read_only(admin_client, clearing, pending):
    txn = post_transaction(kind="payment", legs=[(clearing, -42), (pending, 42)], idempotency_key="adm")
    for url in ("/admin/ledger/account/", "/admin/ledger/transaction/", f"/admin/ledger/transaction/{txn.pk}/change/"):
        response = admin_client.get(url)
        assert response.status_code == 200, url
    assert b"adm" in admin_client.get("/admin/ledger/transaction/").content
    assert admin_client.get("/admin/ledger/transaction/add/").status_code == 403
    response = admin_client.post(f"/admin/ledger/transaction/{txn.pk}/delete/", {"post": "yes"})
    assert response.status_code == 403
    assert Transaction.objects.filter(pk=txn.pk).exists()
