"""Deposit settlement: who gets what back when a challenge ends, and paying it exactly once.

The arithmetic (:func:`compute_plan`) is pure and integer-only; the rules are in
docs/deposits.md and the property tests hold it to them:

- A participant *completes* when ``total_checkins`` (make-ups included) ≥ ``days_to_complete``.
- Completers get their own deposit back. Deposits of those who failed are *forfeited*.
- The organiser fee is ``forfeited × fee_bps // 10000`` (rounded down, in the members' favour),
  credited to the circle's ``circle_available`` account.
- The rest (``distributable``) is shared among completers: ``even`` — equal weights; or
  ``proportional`` — weight = days checked in (if every completer has 0 days, evenly).
  Each share is ``floor(distributable × weight / total_weight)``.
- Leftover cents (``distributable − Σ floors``, always fewer than the completers) go one each
  to completers ordered by most days, then earliest join, then lowest participant id.
- Nobody completes: everyone gets their deposit back in full and there is no fee.
  Everybody completes: nothing is forfeited, everyone gets their deposit back, no fee.

Invariant, for every input: Σ deposits = Σ refunds + Σ shares + fee, no amount is negative.

Running it (:func:`settle_challenge`), crash-safe and once per challenge:

1. **Plan** (one transaction, challenge row locked): compute the plan from the participants'
   counts and persist it as one :class:`~quanzi.checkins.settlement_models.Settlement` (unique per
   challenge) with one line per participant; outcomes are fixed; the challenge becomes
   ``settling``. A rerun finds the stored plan and never recomputes it.
2. **Pay** member by member, each in its own transaction: lock the line, skip it if paid, post
   ``deposits_held → wallet`` with the ledger key ``chl<challenge>-settle-<participant>``,
   mark the line and the participant settled. A worker killed between two members leaves
   the paid ones marked and the rest unpaid; a crash inside a member's transaction rolls
   both the posting and the mark back. Either way the rerun pays each member exactly once.
3. **Fee** (``chl<challenge>-fee``), then **verify**: the challenge's deposits held
   are back to zero and deposits in = refunds + shares + fee, from the ledger's own entries;
   only then is the challenge ``settled``.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from quanzi.core.errors import Conflict, InvalidInput, NotFound

logger = logging.getLogger(__name__)

EVEN = "even"
PROPORTIONAL = "proportional"
MAX_FEE_BPS = 10_000

# The outcome of the plan as a whole (docs/deposits.md).
RULE_SHARED = "shared"  # some completed, some failed: forfeits shared among completers
RULE_ALL_COMPLETED = "all_completed"  # nothing forfeited
RULE_NO_COMPLETERS = "no_completers"  # everyone refunded in full, no fee
RULE_NO_PARTICIPANTS = "no_participants"


# --- the arithmetic -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Member:
    """What the plan needs to know about one participant."""

    participant_id: int
    deposit: int
    days: int
    joined_at: datetime | None = None  # only used to order leftover-cent recipients


@dataclass(frozen=True, slots=True)
class Line:
    participant_id: int
    deposit: int
    days: int
    completed: bool
    refund: int  # own deposit back
    share: int  # floor share of the distributable forfeits
    bonus: int  # 0 or 1 leftover minor unit

    @property
    def amount(self) -> int:
        """What the member receives in total."""
        return self.refund + self.share + self.bonus


@dataclass(frozen=True, slots=True)
class Plan:
    rule: str
    share_mode: str
    fee_bps: int
    pool: int  # Σ deposits held
    forfeited: int  # Σ deposits of those who failed (0 under the no-completer rule)
    fee: int
    distributable: int  # forfeited − fee
    leftover: int  # minor units handed out one each as bonus
    lines: tuple[Line, ...] = field(default_factory=tuple)

    @property
    def refunds(self) -> int:
        return sum(line.refund for line in self.lines)

    @property
    def shares(self) -> int:
        return sum(line.share + line.bonus for line in self.lines)

    @property
    def leftover_recipients(self) -> list[int]:
        return [line.participant_id for line in self.lines if line.bonus]


def _int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _leftover_order(member: Member) -> tuple:
    """Most days first, then earliest join, then lowest id: deterministic and explainable."""
    joined = member.joined_at.timestamp() if member.joined_at is not None else 0.0
    return (-member.days, joined, member.participant_id)


def compute_plan(members: Iterable[Member], *, days_to_complete: int, share_mode: str, fee_bps: int) -> Plan:
    """The settlement of one challenge, in integer minor units (see the module docstring for the rules)."""
    members = list(members)
    if share_mode not in (EVEN, PROPORTIONAL):
        raise InvalidInput(_("Forfeited deposits are shared evenly or in proportion to days."),
                           code="invalid_share_mode")
    if not _int(fee_bps) or not 0 <= fee_bps <= MAX_FEE_BPS:
        raise InvalidInput(_("The organiser fee is 0 to 10000 basis points."), code="invalid_fee")
    if not _int(days_to_complete) or days_to_complete < 0:
        raise InvalidInput(_("The days needed to complete must be zero or more."), code="invalid_days")
    if len({m.participant_id for m in members}) != len(members):
        raise InvalidInput(_("A participant appears twice in the settlement."), code="duplicate_participant")
    for m in members:
        if not (_int(m.deposit) and m.deposit >= 0 and _int(m.days) and m.days >= 0):
            raise InvalidInput(_("Deposits and days are whole numbers, zero or more."), code="invalid_member")

    pool = sum(m.deposit for m in members)
    completers = [m for m in members if m.days >= days_to_complete]
    completed_ids = {m.participant_id for m in completers}
    if not members:
        rule = RULE_NO_PARTICIPANTS
    elif not completers:
        rule = RULE_NO_COMPLETERS
    elif len(completers) == len(members):
        rule = RULE_ALL_COMPLETED
    else:
        rule = RULE_SHARED

    if rule == RULE_SHARED:
        forfeited = sum(m.deposit for m in members if m.participant_id not in completed_ids)
    else:
        forfeited = 0  # nobody to reward (everyone is refunded) or nothing forfeited
    fee = forfeited * fee_bps // MAX_FEE_BPS
    distributable = forfeited - fee

    weights = {m.participant_id: (m.days if share_mode == PROPORTIONAL else 1) for m in completers}
    total_weight = sum(weights.values())
    if completers and total_weight == 0:  # proportional, but every completer has 0 days
        weights = {pid: 1 for pid in weights}
        total_weight = len(weights)
    shares = {pid: (distributable * w // total_weight if total_weight else 0) for pid, w in weights.items()}
    leftover = distributable - sum(shares.values())
    assert 0 <= leftover < max(len(completers), 1) or distributable == 0, "floor shares lose less than one unit each"
    bonus_ids = {m.participant_id for m in sorted(completers, key=_leftover_order)[:leftover]}

    lines = []
    for m in sorted(members, key=lambda m: m.participant_id):
        done = m.participant_id in completed_ids
        refund = m.deposit if (done or rule == RULE_NO_COMPLETERS) else 0
        lines.append(Line(
            participant_id=m.participant_id, deposit=m.deposit, days=m.days, completed=done, refund=refund,
            share=shares.get(m.participant_id, 0), bonus=1 if m.participant_id in bonus_ids else 0,
        ))
    plan = Plan(rule=rule, share_mode=share_mode, fee_bps=fee_bps, pool=pool, forfeited=forfeited, fee=fee,
                distributable=distributable, leftover=leftover, lines=tuple(lines))
    if plan.refunds + plan.shares + plan.fee != pool:  # pragma: no cover - the property tests prove it can't
        raise AssertionError("settlement plan does not add up")
    return plan


# --- running it ---------------------------------------------------------------------------


def ledger_key(challenge_id: int, participant_id: int) -> str:
    """One settlement posting per (challenge, member), ever (the ledger's unique key)."""
    return f"chl{challenge_id}-settle-{participant_id}"


def fee_key(challenge_id: int) -> str:
    return f"chl{challenge_id}-fee"


@dataclass
class SettleResult:
    challenge_id: int
    status: str  # "settled", "already_settled", "not_ended"
    paid_now: int = 0  # members paid by this run
    skipped: int = 0  # members already paid by an earlier (possibly killed) run
    problems: list[str] = field(default_factory=list)


def _crash_hook(point: str, paid_so_far: int) -> None:
    """Testing aid for the crash-safety tests (tests/settlement/test_crash.py): with
    ``QUANZI_SETTLE_KILL_AT=<point>:<k>`` the process SIGKILLs itself — no cleanup, no commit of
    anything in flight — at ``planned:0`` (the plan just committed, nobody paid), ``between:k``
    (after the k-th member's transaction committed) or ``inside:k`` (inside the k-th member's
    transaction, after its ledger posting)."""
    wanted = os.environ.get("QUANZI_SETTLE_KILL_AT", "")
    name, _sep, count = wanted.partition(":")
    if name == point and count.isdigit() and paid_so_far == int(count):
        logger.warning("QUANZI_SETTLE_KILL_AT=%s: killing this process", wanted)
        os.kill(os.getpid(), signal.SIGKILL)


def settle_challenge(challenge_id: int, *, now: datetime | None = None, force: bool = False) -> SettleResult:
    """Plan (once), pay every member (once), take the fee (once), verify, mark settled.

    Safe to run again at any time, also concurrently and after a crash: every step finds what
    an earlier run did. ``force`` settles before the last window closes (the management
    command's ``--now``-less rerun never needs it; tests do).
    """
    from .models import Challenge
    from .settlement_models import Settlement, SettlementStatus

    now = now or timezone.now()
    challenge = Challenge.objects.select_related("circle").filter(id=challenge_id).first()
    if challenge is None:
        raise NotFound(_("No such challenge."), code="challenge_not_found")
    settlement = Settlement.objects.filter(challenge_id=challenge.id).first()
    if settlement is not None and settlement.status == SettlementStatus.DONE:
        return SettleResult(challenge_id=challenge.id, status="already_settled")
    if settlement is None:
        if not force and now < settle_after(challenge):
            return SettleResult(challenge_id=challenge.id, status="not_ended")
        settlement = _create_plan(challenge.id)
        _crash_hook("planned", 0)
    result = SettleResult(challenge_id=challenge.id, status="settled")
    for line_id in settlement.lines.order_by("id").values_list("id", flat=True):
        if _pay_line(line_id, ordinal=result.paid_now + 1):
            result.paid_now += 1
            _crash_hook("between", result.paid_now)
        else:
            result.skipped += 1
    _take_fee(settlement.id)
    result.problems = _finish(settlement.id)
    if result.problems:
        result.status = "mismatch"
    logger.info("settled challenge %s: %s paid now, %s already paid, problems %s", challenge.id, result.paid_now,
                result.skipped, result.problems)
    return result


def settle_after(challenge) -> datetime:
    """When the last day's window closes in the circle's time zone (check-ins and make-ups are
    closed from then on): settlement may run."""
    from .schedule import Rules

    return Rules.of(challenge, challenge.circle.timezone).window(challenge.end_date)[1]


def _members_of(challenge) -> list[Member]:
    from .models import Participant

    rows = Participant.objects.filter(challenge_id=challenge.id).values_list(
        "id", "deposit_paid", "total_checkins", "joined_at"
    )
    return [Member(participant_id=pid, deposit=int(dep), days=int(days), joined_at=joined)
            for pid, dep, days, joined in rows]


def _create_plan(challenge_id: int):
    """Compute and store the plan in one transaction; a concurrent or earlier run's plan wins."""
    from .models import Challenge, ChallengeStatus, Outcome, Participant
    from .settlement_models import Settlement, SettlementLine

    try:
        with transaction.atomic():
            challenge = Challenge.objects.select_for_update().select_related("circle").get(id=challenge_id)
            existing = Settlement.objects.filter(challenge_id=challenge.id).first()
            if existing is not None:
                return existing
            plan = compute_plan(_members_of(challenge), days_to_complete=challenge.days_to_complete,
                                share_mode=challenge.share_mode, fee_bps=challenge.organiser_fee_bps)
            settlement = Settlement.objects.create(
                challenge=challenge, currency=challenge.currency, rule=plan.rule, share_mode=plan.share_mode,
                fee_bps=plan.fee_bps, days_to_complete=challenge.days_to_complete, pool=plan.pool,
                forfeited=plan.forfeited, fee=plan.fee, distributable=plan.distributable, leftover=plan.leftover,
                completers=sum(1 for line in plan.lines if line.completed), participants=len(plan.lines),
            )
            SettlementLine.objects.bulk_create(
                SettlementLine(settlement=settlement, participant_id=line.participant_id, deposit=line.deposit,
                               days=line.days, completed=line.completed, refund=line.refund, share=line.share,
                               bonus=line.bonus, amount=line.amount)
                for line in plan.lines
            )
            for completed in (True, False):
                ids = [line.participant_id for line in plan.lines if line.completed is completed]
                if ids:
                    Participant.objects.filter(id__in=ids).update(
                        outcome=Outcome.COMPLETED if completed else Outcome.FAILED
                    )
            Challenge.objects.filter(id=challenge.id).update(status=ChallengeStatus.SETTLING)
            return settlement
    except IntegrityError:  # a concurrent run stored its plan first (unique per challenge)
        existing = Settlement.objects.filter(challenge_id=challenge_id).first()
        if existing is None:
            raise
        return existing


def _pay_line(line_id: int, *, ordinal: int = 0) -> bool:
    """Pay one member in one transaction; False if an earlier run already did."""
    from quanzi.ledger import services as ledger
    from quanzi.ledger.models import AccountKind

    from .deposits import held_account
    from .models import Participant
    from .settlement_models import SettlementLine

    with transaction.atomic():
        line = (SettlementLine.objects.select_for_update(of=("self",))
                .select_related("settlement__challenge__circle", "participant").get(id=line_id))
        if line.paid_at is not None:
            return False
        settlement = line.settlement
        challenge = settlement.challenge
        participant = line.participant
        txn = None
        if line.amount > 0:
            wallet = ledger.get_account(AccountKind.WALLET, currency=settlement.currency, user=participant.user)
            txn = ledger.post_transaction(
                kind="checkin.settlement",
                legs=[(held_account(challenge), -line.amount), (wallet, line.amount)],
                idempotency_key=ledger_key(challenge.id, participant.id),
                memo=f"{challenge.title}: deposit settlement"[:500],
                metadata={"challenge_id": challenge.id, "participant_id": participant.id, "refund": line.refund,
                          "share": line.share + line.bonus},
            )
        _crash_hook("inside", ordinal)
        now = timezone.now()
        line.txn = txn
        line.paid_at = now
        line.save(update_fields=["txn", "paid_at"])
        Participant.objects.filter(id=participant.id).update(settled_amount=line.amount, settled_txn=txn,
                                                             settled_at=now)
        _notify_member(line, challenge)  # in the member's transaction: one notice per payment, ever
    return True


def _notify_member(line, challenge) -> None:
    """Tell the member what the settlement gave them (a personal notice in the circle's language)."""
    from quanzi.chat.actions import notify_user
    from quanzi.chat.models import NoticeKind
    from quanzi.web.money import format_money

    circle = challenge.circle
    amount = format_money(line.amount, line.settlement.currency)
    with translation.override(circle.language):
        if line.completed:
            text = _("“%(title)s” is settled: you completed it and %(amount)s went to your wallet.")
        elif line.amount:
            text = _("“%(title)s” is settled: nobody completed it, so your deposit of %(amount)s went back to "
                     "your wallet.")
        else:
            text = _("“%(title)s” is settled: you did not complete it, so your deposit was shared among those "
                     "who did.")
        text = text % {"title": challenge.title, "amount": amount}
    notify_user(user_id=line.participant.user_id, circle_id=circle.id, kind=NoticeKind.CHALLENGE, text=text)


def _take_fee(settlement_id: int) -> None:
    from quanzi.ledger import services as ledger
    from quanzi.ledger.models import AccountKind

    from .deposits import held_account
    from .settlement_models import Settlement

    with transaction.atomic():
        settlement = Settlement.objects.select_for_update(of=("self",)).select_related("challenge__circle").get(
            id=settlement_id
        )
        if settlement.fee == 0 or settlement.fee_txn_id is not None:
            return
        challenge = settlement.challenge
        circle_account = ledger.get_account(AccountKind.CIRCLE_AVAILABLE, currency=settlement.currency,
                                            circle=challenge.circle)
        settlement.fee_txn = ledger.post_transaction(
            kind="checkin.organiser_fee",
            legs=[(held_account(challenge), -settlement.fee), (circle_account, settlement.fee)],
            idempotency_key=fee_key(challenge.id), memo=f"{challenge.title}: organiser fee"[:500],
            metadata={"challenge_id": challenge.id, "fee_bps": settlement.fee_bps},
        )
        settlement.save(update_fields=["fee_txn"])


def verify(settlement) -> list[str]:
    """What disagrees between the plan and the ledger for this challenge (should be nothing)."""
    from quanzi.ledger.models import Entry, Transaction

    from .deposits import challenge_held_balance, deposits_in
    from .settlement_models import SettlementLine

    challenge = settlement.challenge
    problems = []
    held = challenge_held_balance(challenge)
    if held != 0:
        problems.append(f"deposits held for challenge {challenge.id} is {held}, not 0")
    paid_in = deposits_in(challenge)
    lines = SettlementLine.objects.filter(settlement=settlement)
    out = int(lines.aggregate(total=Sum("amount"))["total"] or 0)
    if paid_in != settlement.pool:
        problems.append(f"deposits in {paid_in} != planned pool {settlement.pool}")
    if paid_in != out + settlement.fee:
        problems.append(f"deposits in {paid_in} != refunds and shares {out} + fee {settlement.fee}")
    posted = Entry.objects.filter(
        transaction__in=Transaction.objects.filter(idempotency_key__startswith=f"chl{challenge.id}-settle-"),
        amount__gt=0,
    ).aggregate(total=Sum("amount"))["total"] or 0
    if int(posted) != out:
        problems.append(f"ledger paid {posted} to members, plan says {out}")
    if lines.filter(paid_at__isnull=True).exists():
        problems.append("some members are not paid yet")
    if settlement.fee and settlement.fee_txn_id is None:
        problems.append("the organiser fee is not posted yet")
    return problems


def _finish(settlement_id: int) -> list[str]:
    from .models import Challenge, ChallengeStatus
    from .settlement_models import Settlement, SettlementStatus

    with transaction.atomic():
        settlement = Settlement.objects.select_for_update(of=("self",)).select_related("challenge").get(
            id=settlement_id
        )
        if settlement.status == SettlementStatus.DONE:
            return []
        problems = verify(settlement)
        if problems:
            logger.error("settlement of challenge %s does not add up: %s", settlement.challenge_id, problems)
            return problems
        settlement.status = SettlementStatus.DONE
        settlement.finished_at = timezone.now()
        settlement.save(update_fields=["status", "finished_at"])
        Challenge.objects.filter(id=settlement.challenge_id).update(status=ChallengeStatus.SETTLED)
        from .events import CheckinEvent, emit_checkin_event

        emit_checkin_event(CheckinEvent.SETTLED, circle=settlement.challenge.circle_id, data={
            "challenge_id": settlement.challenge_id, "pool": settlement.pool, "fee": settlement.fee,
            "completers": settlement.completers, "participants": settlement.participants})
    return []


def check_not_settled(challenge) -> None:
    """Refuse money moves on a challenge whose settlement has started."""
    from .settlement_models import Settlement

    if Settlement.objects.filter(challenge_id=challenge.id).exists():
        raise Conflict(_("This challenge's deposits are being settled."), code="challenge_settling")


__all__: Sequence[str] = ["Member", "Plan", "Line", "compute_plan", "settle_challenge", "settle_after", "verify"]
