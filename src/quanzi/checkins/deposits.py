"""Challenge deposits in the ledger: paid from the member's wallet on joining, given back on leaving
before the start, settled at the end (``settlement.py``).

Accounts: the member's ``wallet`` and the circle's ``deposits_held`` account (the ledger scopes
held deposits by circle; one challenge's share of it is the sum of the entries whose
transaction key starts with ``chl<challenge id>-`` — see :func:`challenge_held_balance`).

Ledger keys (unique, so a retry never posts twice):
``chl<challenge>-deposit-<participant>`` (join), ``chl<challenge>-leave-<participant>`` (refund on
leaving), ``chl<challenge>-settle-<participant>`` and ``chl<challenge>-fee`` (settlement).

Joining and paying are one database transaction: :func:`pay_deposit` is called by
``checkins.actions.do_join_challenge`` inside its ``atomic()`` block right after the participant
row is inserted, so a refusal (``insufficient_funds``) rolls the participant row back too.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Sum
from django.utils.translation import gettext as _

from quanzi.core.errors import Conflict, InvalidInput
from quanzi.ledger import services as ledger
from quanzi.ledger.models import Account, AccountKind, Entry, Transaction


def held_account(challenge) -> Account:
    """The circle's ``deposits_held`` account in the challenge's currency."""
    return ledger.get_account(AccountKind.DEPOSITS_HELD, currency=challenge.currency, circle=challenge.circle)


def wallet_account(user, currency: str) -> Account:
    return ledger.get_account(AccountKind.WALLET, currency=currency, user=user)


def deposit_key(challenge_id: int, participant_id: int) -> str:
    return f"chl{challenge_id}-deposit-{participant_id}"


def leave_key(challenge_id: int, participant_id: int) -> str:
    return f"chl{challenge_id}-leave-{participant_id}"


def _format(amount: int, currency: str) -> str:
    from quanzi.web.money import format_money

    return format_money(amount, currency)


def pay_deposit(participant, *, idempotency_key: str | None = None) -> Transaction | None:
    """Move the challenge's deposit from the member's wallet to deposits held; record it on the participant.

    Call inside the join transaction (it opens a savepoint of its own otherwise). Refused with
    ``Conflict`` ``insufficient_funds`` when the wallet holds less than the deposit — the caller's
    transaction then rolls back, so no participant row stays behind. Calling it again for the
    same participant returns the first posting (the key is unique per participant).
    """
    challenge = participant.challenge
    amount = int(challenge.deposit_amount)
    if amount <= 0:
        return None
    if participant.pk is None:
        raise InvalidInput(_("Save the participant before paying the deposit."), code="invalid_participant")
    key = idempotency_key or deposit_key(challenge.id, participant.pk)
    if participant.deposit_txn_id is not None:
        return participant.deposit_txn
    with transaction.atomic():
        wallet = wallet_account(participant.user, challenge.currency)
        available = ledger.balance(wallet)
        if available < amount and not Transaction.objects.filter(idempotency_key=key).exists():
            raise Conflict(
                _("The deposit is %(deposit)s but your wallet has %(balance)s. Top up your wallet first.")
                % {"deposit": _format(amount, challenge.currency), "balance": _format(available, challenge.currency)},
                code="insufficient_funds",
            )
        txn = ledger.post_transaction(
            kind="checkin.deposit",
            legs=[(wallet, -amount), (held_account(challenge), amount)],
            idempotency_key=key,
            memo=f"{challenge.title}: deposit"[:500],
            metadata={"challenge_id": challenge.id, "participant_id": participant.pk},
        )
        participant.deposit_paid = amount
        participant.deposit_txn = txn
        type(participant).objects.filter(pk=participant.pk).update(deposit_paid=amount, deposit_txn=txn)
    return txn


def refund_deposit(participant) -> Transaction | None:
    """Give a leaving member's deposit back (before the start): the deposit posting is reversed once.

    Call inside the leave transaction, before the participant row is deleted. Refused once the
    challenge's settlement has started (``challenge_settling``).
    """
    from .settlement import check_not_settled

    if participant.deposit_txn_id is None:
        return None
    check_not_settled(participant.challenge)
    challenge = participant.challenge
    existing = Transaction.objects.filter(reverses_id=participant.deposit_txn_id).first()
    if existing is not None:
        return existing
    txn = ledger.reverse_transaction(
        transaction=participant.deposit_txn, idempotency_key=leave_key(challenge.id, participant.pk),
        kind="checkin.deposit_refund", memo=f"{challenge.title}: deposit refunded on leaving"[:500],
        metadata={"challenge_id": challenge.id, "participant_id": participant.pk},
    )
    type(participant).objects.filter(pk=participant.pk).update(deposit_paid=0)
    participant.deposit_paid = 0
    return txn


def _challenge_entries(challenge):
    return Entry.objects.filter(
        account__kind=AccountKind.DEPOSITS_HELD, account__circle_id=challenge.circle_id,
        account__currency=challenge.currency, transaction__idempotency_key__startswith=f"chl{challenge.id}-",
    )


def challenge_held_balance(challenge) -> int:
    """What deposits_held holds for this one challenge, from the ledger's entries."""
    return int(_challenge_entries(challenge).aggregate(total=Sum("amount"))["total"] or 0)


def deposits_in(challenge) -> int:
    """Deposits paid in, net of those given back to members who left before the start."""
    entries = _challenge_entries(challenge).filter(transaction__kind__in=["checkin.deposit", "checkin.deposit_refund"])
    return int(entries.aggregate(total=Sum("amount"))["total"] or 0)
