"""Random sequences of payments, releases, payouts, refunds, wallet transfers, deposits,
replays and invalid postings, checked against a plain-dict model after every step
(a Hypothesis state machine; issue 3, "Correctness").

After each step: every transaction sums to zero per currency, every cached balance
equals the sum of its entries, no account that must not go negative is below zero,
all balances of a currency sum to zero, and money in (from the provider) = money out
(to the provider) + the balances held inside Quanzi. The model also predicts each
refusal (overdraft, double reversal, idempotency mismatch, bad input), so a refusal the
ledger should not have made fails the test as much as a posting it should have refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test
from hypothesis.strategies import booleans, integers, randoms, sampled_from

from quanzi.circles import actions as circle_actions
from quanzi.core.errors import Conflict, InvalidInput
from quanzi.ledger.models import Account, AccountKind, Transaction
from quanzi.ledger.services import (
    MAX_AMOUNT,
    currency_totals,
    get_account,
    post_transaction,
    reverse_transaction,
    verify_balances,
    verify_transactions,
)

CURRENCIES = ("CNY", "USD")
CIRCLES = (0, 1)
USERS = (0, 1, 2)
CLEARING = "clearing"

amounts = integers(min_value=1, max_value=50_000)


@dataclass
class Posted:
    pk: int
    kind: str
    key: str
    legs: list[tuple[str, int]]
    is_reversal: bool = False
    reversal_key: str | None = None
    extra: dict = field(default_factory=dict)


class LedgerMachine(RuleBasedStateMachine):
    """Account names are strings like ``"pending:0:CNY"``; the model maps them to balances.

    Users and circles are created once per test (class attributes); each example runs in a
    savepoint rolled back at teardown, so its accounts and postings don't leak into the next.
    """

    users: list = []
    circles: list = []

    def __init__(self) -> None:
        super().__init__()
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self.accounts: dict[str, Account] = {}
        for cur in CURRENCIES:
            self.accounts[f"{CLEARING}:{cur}"] = get_account(
                AccountKind.PROVIDER_CLEARING, currency=cur, provider="sandbox"
            )
            self.accounts[f"fees:{cur}"] = get_account(AccountKind.PLATFORM_FEES, currency=cur)
            self.accounts[f"refunds:{cur}"] = get_account(AccountKind.REFUNDS, currency=cur)
            for c in CIRCLES:
                circle = self.circles[c]
                self.accounts[f"pending:{c}:{cur}"] = get_account(
                    AccountKind.CIRCLE_PENDING, currency=cur, circle=circle
                )
                self.accounts[f"available:{c}:{cur}"] = get_account(
                    AccountKind.CIRCLE_AVAILABLE, currency=cur, circle=circle
                )
                self.accounts[f"payouts:{c}:{cur}"] = get_account(
                    AccountKind.PAYOUTS_PENDING, currency=cur, circle=circle
                )
            for u in USERS:
                user = self.users[u]
                self.accounts[f"wallet:{u}:{cur}"] = get_account(AccountKind.WALLET, currency=cur, user=user)
                self.accounts[f"deposits:{u}:{cur}"] = get_account(AccountKind.DEPOSITS_HELD, currency=cur, user=user)
        self.expected = dict.fromkeys(self.accounts, 0)
        self.money_in = dict.fromkeys(CURRENCIES, 0)
        self.money_out = dict.fromkeys(CURRENCIES, 0)
        self.posted: list[Posted] = []
        self.key_counter = 0

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    # --- model helpers --------------------------------------------------------------------

    def _new_key(self) -> str:
        self.key_counter += 1
        return f"sm:{self.key_counter}"

    def _overdraws(self, legs: list[tuple[str, int]]) -> bool:
        return any(not name.startswith(CLEARING) and self.expected[name] + amount < 0 for name, amount in legs)

    def _apply(self, legs: list[tuple[str, int]]) -> None:
        for name, amount in legs:
            self.expected[name] += amount
            if name.startswith(CLEARING):
                currency = name.rsplit(":", 1)[1]
                # A negative clearing leg is money arriving from the outside world.
                if amount < 0:
                    self.money_in[currency] += -amount
                else:
                    self.money_out[currency] += amount

    def _post(self, kind: str, legs: list[tuple[str, int]]) -> None:
        """Post through the service and check the outcome the model predicts."""
        legs = [(name, amount) for name, amount in legs if amount != 0]
        key = self._new_key()
        call = {
            "kind": kind,
            "legs": [(self.accounts[name], amount) for name, amount in legs],
            "idempotency_key": key,
        }
        if self._overdraws(legs):
            with pytest.raises(Conflict) as caught:
                post_transaction(**call)
            assert caught.value.code == "insufficient_funds"
            return
        txn = post_transaction(**call)
        self._apply(legs)
        self.posted.append(Posted(pk=txn.pk, kind=kind, key=key, legs=legs))

    # --- money flows ----------------------------------------------------------------------

    @rule(c=sampled_from(CIRCLES), cur=sampled_from(CURRENCIES), amount=amounts, fee_pct=integers(0, 20))
    def capture_payment(self, c: int, cur: str, amount: int, fee_pct: int) -> None:
        fee = amount * fee_pct // 100
        self._post(
            "payment", [(f"{CLEARING}:{cur}", -amount), (f"fees:{cur}", fee), (f"pending:{c}:{cur}", amount - fee)]
        )

    @rule(u=sampled_from(USERS), cur=sampled_from(CURRENCIES), amount=amounts)
    def top_up_wallet(self, u: int, cur: str, amount: int) -> None:
        self._post("top_up", [(f"{CLEARING}:{cur}", -amount), (f"wallet:{u}:{cur}", amount)])

    @rule(u=sampled_from(USERS), c=sampled_from(CIRCLES), cur=sampled_from(CURRENCIES), amount=amounts)
    def pay_from_wallet(self, u: int, c: int, cur: str, amount: int) -> None:
        self._post("wallet_payment", [(f"wallet:{u}:{cur}", -amount), (f"pending:{c}:{cur}", amount)])

    @rule(c=sampled_from(CIRCLES), cur=sampled_from(CURRENCIES), amount=amounts)
    def release_after_refund_window(self, c: int, cur: str, amount: int) -> None:
        self._post("release", [(f"pending:{c}:{cur}", -amount), (f"available:{c}:{cur}", amount)])

    @rule(c=sampled_from(CIRCLES), cur=sampled_from(CURRENCIES), amount=amounts)
    def request_payout(self, c: int, cur: str, amount: int) -> None:
        self._post("payout_request", [(f"available:{c}:{cur}", -amount), (f"payouts:{c}:{cur}", amount)])

    @rule(c=sampled_from(CIRCLES), cur=sampled_from(CURRENCIES), amount=amounts, paid=booleans())
    def settle_payout(self, c: int, cur: str, amount: int, paid: bool) -> None:
        target = f"{CLEARING}:{cur}" if paid else f"available:{c}:{cur}"
        self._post("payout_paid" if paid else "payout_rejected", [(f"payouts:{c}:{cur}", -amount), (target, amount)])

    @rule(c=sampled_from(CIRCLES), cur=sampled_from(CURRENCIES), amount=amounts)
    def partial_refund(self, c: int, cur: str, amount: int) -> None:
        self._post("refund", [(f"pending:{c}:{cur}", -amount), (f"refunds:{cur}", amount)])

    @rule(cur=sampled_from(CURRENCIES), amount=amounts)
    def send_refunds(self, cur: str, amount: int) -> None:
        self._post("refund_sent", [(f"refunds:{cur}", -amount), (f"{CLEARING}:{cur}", amount)])

    @rule(u=sampled_from(USERS), cur=sampled_from(CURRENCIES), amount=amounts, release=booleans())
    def deposit(self, u: int, cur: str, amount: int, release: bool) -> None:
        wallet, held = f"wallet:{u}:{cur}", f"deposits:{u}:{cur}"
        if release:
            self._post("deposit_release", [(held, -amount), (wallet, amount)])
        else:
            self._post("deposit_hold", [(wallet, -amount), (held, amount)])

    @rule(a=sampled_from(USERS), b=sampled_from(USERS), cur=sampled_from(CURRENCIES), amount=amounts)
    def wallet_transfer(self, a: int, b: int, cur: str, amount: int) -> None:
        if a == b:
            before = Transaction.objects.count()
            with pytest.raises(InvalidInput) as caught:
                post_transaction(
                    kind="transfer",
                    legs=[(self.accounts[f"wallet:{a}:{cur}"], -amount), (self.accounts[f"wallet:{b}:{cur}"], amount)],
                    idempotency_key=self._new_key(),
                )
            assert caught.value.code == "duplicate_account"
            assert Transaction.objects.count() == before
            return
        self._post("transfer", [(f"wallet:{a}:{cur}", -amount), (f"wallet:{b}:{cur}", amount)])

    # --- reversals and replays ------------------------------------------------------------

    @precondition(lambda self: self.posted)
    @rule(pick=integers(0, 10**6), reuse_key=booleans())
    def reverse(self, pick: int, reuse_key: bool) -> None:
        target = self.posted[pick % len(self.posted)]
        original = Transaction.objects.get(pk=target.pk)
        if target.is_reversal:
            with pytest.raises(Conflict) as caught:
                reverse_transaction(transaction=original, idempotency_key=self._new_key())
            assert caught.value.code == "cannot_reverse_reversal"
            return
        if target.reversal_key is not None:
            if reuse_key:  # a retried refund: the same reversal comes back, nothing new is posted
                again = reverse_transaction(transaction=original, idempotency_key=target.reversal_key)
                assert again.reverses_id == target.pk
                return
            with pytest.raises(Conflict) as caught:
                reverse_transaction(transaction=original, idempotency_key=self._new_key())
            assert caught.value.code == "already_reversed"
            return
        negated = [(name, -amount) for name, amount in target.legs]
        key = self._new_key()
        if self._overdraws(negated):  # the money already moved on (released, paid out, spent)
            with pytest.raises(Conflict) as caught:
                reverse_transaction(transaction=original, idempotency_key=key)
            assert caught.value.code == "insufficient_funds"
            return
        reversal = reverse_transaction(transaction=original, idempotency_key=key, memo="refund")
        assert reversal.reverses_id == target.pk
        self._apply(negated)
        target.reversal_key = key
        self.posted.append(Posted(pk=reversal.pk, kind="reversal", key=key, legs=negated, is_reversal=True))

    @precondition(lambda self: any(not p.is_reversal for p in self.posted))
    @rule(pick=integers(0, 10**6), rnd=randoms(use_true_random=False))
    def replay_same_request(self, pick: int, rnd) -> None:
        candidates = [p for p in self.posted if not p.is_reversal]
        target = candidates[pick % len(candidates)]
        legs = [(self.accounts[name], amount) for name, amount in target.legs]
        rnd.shuffle(legs)  # the order of legs is not part of the request
        again = post_transaction(kind=target.kind, legs=legs, idempotency_key=target.key)
        assert again.pk == target.pk

    @precondition(lambda self: any(not p.is_reversal for p in self.posted))
    @rule(pick=integers(0, 10**6), change=sampled_from(("amounts", "kind", "accounts")))
    def replay_different_request(self, pick: int, change: str) -> None:
        candidates = [p for p in self.posted if not p.is_reversal]
        target = candidates[pick % len(candidates)]
        legs = list(target.legs)
        kind = target.kind
        if change == "amounts":  # move a little money between the first two legs, keeping the sum zero
            (n0, a0), (n1, a1) = legs[0], legs[1]
            d = next(d for d in (1, 2, 3) if a0 + d != 0 and a1 - d != 0)
            legs[0], legs[1] = (n0, a0 + d), (n1, a1 - d)
        elif change == "kind":
            kind = target.kind + "_other"
        else:
            currency = legs[0][0].rsplit(":", 1)[1]
            spare = next(name for name in self.accounts if name.endswith(currency) and name not in dict(legs))
            legs[0] = (spare, legs[0][1])
        with pytest.raises(Conflict) as caught:
            post_transaction(kind=kind, legs=[(self.accounts[n], a) for n, a in legs], idempotency_key=target.key)
        assert caught.value.code == "idempotency_mismatch"

    @rule(
        bad=sampled_from(
            (
                ("float", "invalid_amount"),
                ("bool", "invalid_amount"),
                ("str", "invalid_amount"),
                ("decimal", "invalid_amount"),
                ("zero", "invalid_amount"),
                ("unbalanced", "unbalanced"),
                ("mixed_currency", "currency_mismatch"),
                ("one_leg", "invalid_legs"),
                ("huge", "amount_too_large"),
            )
        ),
        amount=amounts,
        c=sampled_from(CIRCLES),
    )
    def invalid_posting(self, bad: tuple[str, str], amount: int, c: int) -> None:
        what, code = bad
        clearing, pending = self.accounts[f"{CLEARING}:CNY"], self.accounts[f"pending:{c}:CNY"]
        legs = {
            "float": [(clearing, -float(amount)), (pending, float(amount))],
            "bool": [(clearing, -1), (pending, True)],
            "str": [(clearing, -amount), (pending, str(amount))],
            "decimal": [(clearing, -Decimal(amount)), (pending, Decimal(amount))],
            "zero": [(clearing, -amount), (pending, amount), (self.accounts["fees:CNY"], 0)],
            "unbalanced": [(clearing, -amount), (pending, amount - 1)],
            "mixed_currency": [(clearing, -amount), (self.accounts[f"pending:{c}:USD"], amount)],
            "one_leg": [(pending, amount)],
            "huge": [(clearing, -(MAX_AMOUNT + amount)), (pending, MAX_AMOUNT + amount)],
        }[what]
        with pytest.raises(InvalidInput) as caught:
            post_transaction(kind="payment", legs=legs, idempotency_key=self._new_key())
        assert caught.value.code == code
        # Nothing written is checked by the invariants: the model did not change.

    # --- invariants -----------------------------------------------------------------------

    @invariant()
    def balances_match_the_model_and_the_entries(self) -> None:
        stored = dict(
            Account.objects.filter(pk__in=[a.pk for a in self.accounts.values()]).values_list("pk", "balance")
        )
        assert {name: stored[account.pk] for name, account in self.accounts.items()} == self.expected
        assert verify_balances() == []

    @invariant()
    def every_transaction_sums_to_zero(self) -> None:
        assert verify_transactions() == []
        assert Transaction.objects.count() == len(self.posted)

    @invariant()
    def nothing_is_negative_that_must_not_be(self) -> None:
        assert not Account.objects.filter(allow_negative=False, balance__lt=0).exists()

    @invariant()
    def money_in_equals_money_out_plus_balances(self) -> None:
        totals = currency_totals()
        for cur in CURRENCIES:
            assert totals.get(cur, 0) == 0
            held_inside = sum(
                balance
                for name, balance in self.expected.items()
                if name.endswith(cur) and not name.startswith(CLEARING)
            )
            assert self.money_in[cur] == self.money_out[cur] + held_inside
            assert -self.expected[f"{CLEARING}:{cur}"] == self.money_in[cur] - self.money_out[cur]


@pytest.mark.django_db
def test_ledger_state_machine(owner, make_user):
    circles = [
        circle_actions.do_create_circle(owner=owner, name=f"Paid {i}", slug=f"paid-{i}", with_channel=False)
        for i in CIRCLES
    ]
    users = [make_user(f"payer{i}") for i in USERS]
    machine = type("LedgerMachineWithWorld", (LedgerMachine,), {"users": users, "circles": circles})
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=100,
            stateful_step_count=30,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
