"""The ledger's service functions: the only code that writes money.

Every posting is validated completely before anything is written, runs in one database
transaction, locks its accounts in id order (so two postings over the same accounts
queue instead of deadlocking), refuses to take a non-negative account below zero, and
updates the cached balances with ``F()`` inside that same transaction. Replaying an
idempotency key returns the first transaction, so a retried webhook or a double click
never posts twice.

Error codes (stable; callers may map them):

- ``InvalidInput`` (400): ``invalid_kind``, ``invalid_currency``, ``invalid_scope``,
  ``invalid_account``, ``invalid_legs``, ``invalid_amount``, ``amount_too_large``,
  ``duplicate_account``, ``currency_mismatch``, ``unbalanced``, ``invalid_idempotency_key``,
  ``invalid_memo``, ``invalid_metadata``, ``invalid_transaction``.
- ``Conflict`` (409): ``insufficient_funds``, ``idempotency_mismatch``, ``already_reversed``,
  ``cannot_reverse_reversal``.
- ``NotFound`` (404): ``account_not_found``, ``transaction_not_found``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError
from django.db import transaction as db_transaction
from django.db.models import BigIntegerField, Count, F, Q, Sum, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from quanzi.core.errors import Conflict, InvalidInput, NotFound

from .currencies import MINOR_UNITS, is_currency
from .models import NEGATIVE_KINDS, Account, AccountKind, Entry, Transaction

# One leg may move at most 10^15 minor units (10 trillion yuan); a balance stays within
# 10^18, safely inside a signed 64-bit column, so no sum can overflow on either database.
MAX_AMOUNT = 10**15
MAX_BALANCE = 10**18
MAX_LEGS = 20
MAX_METADATA_BYTES = 8192

_KIND_RE = re.compile(r"[a-z][a-z0-9_.:-]{0,63}")
_KEY_RE = re.compile(r"[\x21-\x7e]{1,200}")  # visible ASCII: keys are built by code, not typed
_PROVIDER_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")

# Which owner an account of each kind has. Required scopes must be given; scopes in
# neither set are refused, so e.g. a wallet can't be created per circle by mistake.
_REQUIRED_SCOPE: dict[str, frozenset[str]] = {
    AccountKind.WALLET: frozenset({"user"}),
    AccountKind.CIRCLE_PENDING: frozenset({"circle"}),
    AccountKind.CIRCLE_AVAILABLE: frozenset({"circle"}),
    AccountKind.PAYOUTS_PENDING: frozenset({"circle"}),
    AccountKind.PLATFORM_FEES: frozenset(),
    AccountKind.PROVIDER_CLEARING: frozenset({"provider"}),
    AccountKind.DEPOSITS_HELD: frozenset(),
    AccountKind.REFUNDS: frozenset(),
}
_OPTIONAL_SCOPE: dict[str, frozenset[str]] = {
    AccountKind.DEPOSITS_HELD: frozenset({"user", "circle"}),
    AccountKind.REFUNDS: frozenset({"user", "circle"}),
}


@dataclass(frozen=True)
class BalanceMismatch:
    """An account whose cached balance or entry count disagrees with its entries."""

    account_id: int
    kind: str
    currency: str
    cached_balance: int
    entry_sum: int
    cached_count: int
    entry_count: int


@dataclass(frozen=True)
class UnbalancedTransaction:
    """A transaction whose entries in one currency don't sum to zero."""

    transaction_id: int
    currency: str
    total: int


# --- accounts -----------------------------------------------------------------------------


def get_account(
    kind: str, *, currency: str, user: Any = None, circle: Any = None, provider: str | None = None
) -> Account:
    """The account of ``kind`` for that owner and currency, created on first use.

    Creation races are safe: ``key`` is unique, and ``get_or_create`` re-reads the row a
    concurrent caller inserted first.
    """
    if not isinstance(kind, str) or kind not in AccountKind.values:
        raise InvalidInput(_("Unknown ledger account kind."), code="invalid_kind")
    if not is_currency(currency):
        raise InvalidInput(_("Unknown or unsupported currency code."), code="invalid_currency")
    given = {
        name
        for name, value in (("user", user), ("circle", circle), ("provider", provider))
        if value is not None and value != ""
    }
    required = _REQUIRED_SCOPE[kind]
    allowed = required | _OPTIONAL_SCOPE.get(kind, frozenset())
    if not required <= given or not given <= allowed:
        raise InvalidInput(
            _("A %(kind)s account needs exactly these owners: %(owners)s.")
            % {"kind": kind, "owners": ", ".join(sorted(required)) or _("none")},
            code="invalid_scope",
        )
    for name, value in (("user", user), ("circle", circle)):
        if value is not None and getattr(value, "pk", None) is None:
            raise InvalidInput(
                _("The %(name)s of an account must be saved first.") % {"name": name}, code="invalid_scope"
            )
    if provider is not None and provider != "" and not (isinstance(provider, str) and _PROVIDER_RE.fullmatch(provider)):
        raise InvalidInput(_("A provider name is 1 to 32 lowercase letters, digits, - or _."), code="invalid_scope")

    user_id = user.pk if user is not None else None
    circle_id = circle.pk if circle is not None else None
    provider = provider or ""
    key = f"{kind}|u{user_id or ''}|c{circle_id or ''}|p{provider}|{currency}"
    account, _created = Account.objects.get_or_create(
        key=key,
        defaults={
            "kind": kind,
            "user_id": user_id,
            "circle_id": circle_id,
            "provider": provider,
            "currency": currency,
            "allow_negative": kind in NEGATIVE_KINDS,
        },
    )
    return account


def balance(account: Account) -> int:
    """The account's current balance, read from the database (not the possibly stale object)."""
    pk = getattr(account, "pk", None)
    if pk is None:
        raise NotFound(_("No such ledger account."), code="account_not_found")
    try:
        return int(Account.objects.values_list("balance", flat=True).get(pk=pk))
    except Account.DoesNotExist:
        raise NotFound(_("No such ledger account."), code="account_not_found")


# --- validation ---------------------------------------------------------------------------


def _clean_kind(kind: object) -> str:
    if not isinstance(kind, str) or not _KIND_RE.fullmatch(kind):
        raise InvalidInput(_("A transaction kind is a short lowercase identifier."), code="invalid_kind")
    return kind


def _clean_key(key: object) -> str:
    if not isinstance(key, str) or not _KEY_RE.fullmatch(key):
        raise InvalidInput(
            _("An idempotency key is 1 to 200 visible ASCII characters."), code="invalid_idempotency_key"
        )
    return key


def _clean_memo(memo: object) -> str:
    if not isinstance(memo, str) or len(memo) > 500 or "\x00" in memo:
        raise InvalidInput(_("A memo is text of at most 500 characters."), code="invalid_memo")
    return memo


def _clean_metadata(metadata: object) -> dict:
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise InvalidInput(_("Transaction metadata must be a JSON object."), code="invalid_metadata")
    try:
        encoded = json.dumps(metadata, allow_nan=False)
    except (TypeError, ValueError):
        raise InvalidInput(_("Transaction metadata must be plain JSON."), code="invalid_metadata")
    if len(encoded.encode()) > MAX_METADATA_BYTES or "\\u0000" in encoded:
        raise InvalidInput(_("Transaction metadata is too large or contains NUL."), code="invalid_metadata")
    return metadata


def _clean_amount(amount: object) -> int:
    # bool is an int subclass; True would silently move one fen. Floats and Decimals carry
    # rounding questions the caller must answer before money reaches the ledger.
    if type(amount) is not int:
        raise InvalidInput(_("Amounts are whole numbers of minor units (e.g. fen)."), code="invalid_amount")
    if amount == 0:
        raise InvalidInput(_("A ledger entry can't be zero."), code="invalid_amount")
    if abs(amount) > MAX_AMOUNT:
        raise InvalidInput(_("The amount is too large."), code="amount_too_large")
    return amount


def _clean_legs(legs: object) -> list[tuple[Account, int]]:
    """Everything that can be checked without the database: shape, types, balance to zero."""
    if not isinstance(legs, Sequence) or isinstance(legs, str | bytes) or not 2 <= len(legs) <= MAX_LEGS:
        raise InvalidInput(
            _("A transaction has 2 to %(max)d legs of (account, amount).") % {"max": MAX_LEGS}, code="invalid_legs"
        )
    cleaned: list[tuple[Account, int]] = []
    seen: set[int] = set()
    for leg in legs:
        if not isinstance(leg, tuple | list) or len(leg) != 2:
            raise InvalidInput(_("Each leg is a pair (account, amount)."), code="invalid_legs")
        account, amount = leg
        if not isinstance(account, Account) or account.pk is None:
            raise InvalidInput(_("Each leg needs a saved ledger account."), code="invalid_account")
        if account.pk in seen:
            raise InvalidInput(_("An account appears twice in one transaction."), code="duplicate_account")
        seen.add(account.pk)
        cleaned.append((account, _clean_amount(amount)))
    if len({account.currency for account, _amount in cleaned}) != 1:
        raise InvalidInput(_("All legs of a transaction must use one currency."), code="currency_mismatch")
    if sum(amount for _account, amount in cleaned) != 0:
        raise InvalidInput(_("The legs of a transaction must sum to zero."), code="unbalanced")
    return cleaned


# --- posting ------------------------------------------------------------------------------


def post_transaction(
    *,
    kind: str,
    legs: Sequence[tuple[Account, int]],
    idempotency_key: str,
    memo: str = "",
    metadata: dict | None = None,
) -> Transaction:
    """Post one balanced transaction (or return the one already posted under this key).

    Safe to call inside the caller's own ``atomic()`` block: the posting then commits or
    rolls back with it. On success the passed ``Account`` objects' ``balance`` and
    ``entry_count`` are refreshed.
    """
    return _post(
        kind=_clean_kind(kind),
        legs=_clean_legs(legs),
        key=_clean_key(idempotency_key),
        memo=_clean_memo(memo),
        metadata=_clean_metadata(metadata),
        reverses=None,
    )


def reverse_transaction(
    *,
    transaction: Transaction,
    idempotency_key: str,
    memo: str = "",
    kind: str = "reversal",
    metadata: dict | None = None,
) -> Transaction:
    """Post the negated legs of ``transaction``, at most once ever.

    A reversal is how the ledger corrects or refunds: nothing is edited. It can fail with
    ``insufficient_funds`` when the money has since moved on (e.g. the circle's revenue was
    already paid out). Reversals themselves are not reversed: post a new transaction.
    """
    key = _clean_key(idempotency_key)
    memo = _clean_memo(memo)
    kind = _clean_kind(kind)
    metadata = _clean_metadata(metadata)
    if not isinstance(transaction, Transaction) or transaction.pk is None:
        raise InvalidInput(_("Only a posted ledger transaction can be reversed."), code="invalid_transaction")
    try:
        original = Transaction.objects.get(pk=transaction.pk)
    except Transaction.DoesNotExist:
        raise NotFound(_("No such ledger transaction."), code="transaction_not_found")
    if original.reverses_id is not None:
        raise Conflict(_("A reversal can't be reversed; post a new transaction."), code="cannot_reverse_reversal")
    legs = [(entry.account, -entry.amount) for entry in original.entries.select_related("account").order_by("pk")]
    return _post(kind=kind, legs=legs, key=key, memo=memo, metadata=metadata, reverses=original)


def _replay(key: str, kind: str, legs: list[tuple[Account, int]], reverses: Transaction | None) -> Transaction | None:
    """The transaction already posted under ``key``, if its content is the same request."""
    existing = Transaction.objects.filter(idempotency_key=key).first()
    if existing is None:
        return None
    stored = sorted(existing.entries.values_list("account_id", "amount"))
    wanted = sorted((account.pk, amount) for account, amount in legs)
    reverses_id = reverses.pk if reverses is not None else None
    if existing.kind != kind or stored != wanted or existing.reverses_id != reverses_id:
        raise Conflict(
            _("This idempotency key was already used for a different transaction."), code="idempotency_mismatch"
        )
    return existing


def _refuse_second_reversal(reverses: Transaction | None) -> None:
    if reverses is not None and Transaction.objects.filter(reverses_id=reverses.pk).exists():
        raise Conflict(_("This transaction has already been reversed."), code="already_reversed")


def _post(
    *,
    kind: str,
    legs: list[tuple[Account, int]],
    key: str,
    memo: str,
    metadata: dict,
    reverses: Transaction | None,
) -> Transaction:
    existing = _replay(key, kind, legs, reverses)
    if existing is not None:
        _sync_accounts(legs)
        return existing
    _refuse_second_reversal(reverses)
    ids = sorted(account.pk for account, _amount in legs)
    try:
        with db_transaction.atomic():
            # Id order: every posting takes its locks in the same global order, so two
            # postings over overlapping accounts wait for each other instead of deadlocking.
            locked = {
                account.pk: account for account in Account.objects.select_for_update().filter(pk__in=ids).order_by("pk")
            }
            # Re-check after the locks: a racer with the same key (or reversing the same
            # transaction) may have committed while we waited.
            existing = _replay(key, kind, legs, reverses)
            if existing is not None:
                _sync_accounts(legs)
                return existing
            _refuse_second_reversal(reverses)
            _check_locked(locked, legs)
            txn = Transaction.objects.create(
                kind=kind, idempotency_key=key, memo=memo, metadata=metadata, reverses=reverses
            )
            Entry.objects.bulk_create(Entry(transaction=txn, account_id=a.pk, amount=amount) for a, amount in legs)
            for account, amount in legs:
                Account.objects.filter(pk=account.pk).update(
                    balance=F("balance") + amount, entry_count=F("entry_count") + 1
                )
    except IntegrityError:
        # The unique key / one-to-one reversal lost a race whose winner committed between
        # our checks and our insert (possible when the two postings share no account).
        existing = _replay(key, kind, legs, reverses)
        if existing is not None:
            _sync_accounts(legs)
            return existing
        _refuse_second_reversal(reverses)
        raise
    for account, amount in legs:
        account.balance = locked[account.pk].balance + amount
        account.entry_count = locked[account.pk].entry_count + 1
    return txn


def _check_locked(locked: dict[int, Account], legs: list[tuple[Account, int]]) -> None:
    """Checks that need the current, locked rows: existence, currency, funds."""
    if len(locked) != len(legs):
        raise NotFound(_("No such ledger account."), code="account_not_found")
    if len({account.currency for account in locked.values()}) != 1:
        raise InvalidInput(_("All legs of a transaction must use one currency."), code="currency_mismatch")
    for account, amount in legs:
        current = locked[account.pk]
        new_balance = current.balance + amount
        if new_balance < 0 and not current.allow_negative:
            raise Conflict(
                _("Insufficient funds in the %(kind)s account.") % {"kind": current.get_kind_display()},
                code="insufficient_funds",
            )
        if abs(new_balance) > MAX_BALANCE:
            raise InvalidInput(_("The resulting balance is too large."), code="amount_too_large")


def _sync_accounts(legs: list[tuple[Account, int]]) -> None:
    """Give the caller's Account objects their current balances after an idempotent replay."""
    current = dict(
        (pk, (bal, count))
        for pk, bal, count in Account.objects.filter(pk__in=[a.pk for a, _amount in legs]).values_list(
            "pk", "balance", "entry_count"
        )
    )
    for account, _amount in legs:
        if account.pk in current:
            account.balance, account.entry_count = current[account.pk]


# --- verification -------------------------------------------------------------------------


def verify_balances() -> list[BalanceMismatch]:
    """Accounts whose cached balance or entry count disagrees with their entries (should be none)."""
    rows = (
        Account.objects.annotate(
            entry_sum=Coalesce(Sum("entries__amount"), Value(0), output_field=BigIntegerField()),
            entries_n=Count("entries"),
        )
        .filter(~Q(balance=F("entry_sum")) | ~Q(entry_count=F("entries_n")))
        .order_by("pk")
        .values_list("pk", "kind", "currency", "balance", "entry_sum", "entry_count", "entries_n")
    )
    return [
        BalanceMismatch(
            account_id=pk,
            kind=kind,
            currency=currency,
            cached_balance=int(cached),
            entry_sum=int(entry_sum),
            cached_count=int(cached_count),
            entry_count=int(count),
        )
        for pk, kind, currency, cached, entry_sum, cached_count, count in rows
    ]


def verify_transactions() -> list[UnbalancedTransaction]:
    """Transactions whose entries don't sum to zero in some currency (should be none)."""
    rows = (
        Entry.objects.values("transaction_id", "account__currency")
        .annotate(total=Sum("amount"))
        .exclude(total=0)
        .order_by("transaction_id")
    )
    return [
        UnbalancedTransaction(
            transaction_id=row["transaction_id"], currency=row["account__currency"], total=int(row["total"])
        )
        for row in rows
    ]


def currency_totals() -> dict[str, int]:
    """Sum of all account balances per currency: zero everywhere when money in = money out + balances."""
    rows = Account.objects.values("currency").annotate(total=Sum("balance")).order_by("currency")
    return {row["currency"]: int(row["total"] or 0) for row in rows}


def minor_units(currency: str) -> int:
    """Digits after the decimal point for display (2 for CNY fen, 0 for JPY)."""
    if not is_currency(currency):
        raise InvalidInput(_("Unknown or unsupported currency code."), code="invalid_currency")
    return MINOR_UNITS[currency]
