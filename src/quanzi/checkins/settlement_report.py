"""What the settlement report shows (web page and API alike): the plan's totals and one row per member.

Circle admins and the owner (the organisers, ``rules.can_manage_challenges``) see every row;
other members see the totals and their own row. Before the challenge has been settled the
report is a *projection* computed from the current counts with the same arithmetic
(``settlement.compute_plan``), marked as such; once the plan is stored, it is the stored plan.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import QuerySet

from . import rules
from .models import Challenge, Participant
from .settlement import Member, compute_plan, settle_after
from .settlement_models import Settlement, SettlementLine


@dataclass
class ReportRow:
    participant_id: int
    user: object
    days: int
    outcome: str  # "completed" / "failed" (projected or final)
    deposit: int
    refund: int
    share: int
    bonus: int
    amount: int
    paid_at: datetime | None = None

    @property
    def gain(self) -> int:
        return self.share + self.bonus


@dataclass
class Report:
    challenge: Challenge
    projected: bool  # True: nothing stored yet, figures from the current counts
    status: str  # "open" (not settled), "planned" (paying out), "done"
    settle_after: datetime
    currency: str
    rule: str
    share_mode: str
    fee_bps: int
    days_to_complete: int
    pool: int
    forfeited: int
    fee: int
    distributable: int
    leftover: int
    participants: int
    completers: int
    sees_all: bool
    total_rows: int = 0  # rows the viewer may see (all of them for organisers, their own for members)
    rows: list[ReportRow] = field(default_factory=list)
    leftover_recipients: list[ReportRow] = field(default_factory=list)
    finished_at: datetime | None = None


def _visible(qs: QuerySet, *, sees_all: bool, user) -> QuerySet:
    return qs if sees_all else qs.filter(participant__user_id=user.id)


def settlement_report(challenge: Challenge, membership, user, *, limit: int | None = None, offset: int = 0) -> Report:
    """The report for ``user`` (whose active ``membership`` the caller checked). ``limit``/``offset`` page the rows."""
    sees_all = rules.can_manage_challenges(membership)
    settlement = Settlement.objects.filter(challenge_id=challenge.id).first()
    common = {"challenge": challenge, "settle_after": settle_after(challenge), "sees_all": sees_all}
    if settlement is not None:
        lines = SettlementLine.objects.filter(settlement=settlement).select_related("participant__user").order_by(
            "-amount", "-days", "participant_id")
        visible = _visible(lines, sees_all=sees_all, user=user)
        end = None if limit is None else offset + limit
        rows = [_row(line) for line in visible[offset:end]]
        common["total_rows"] = visible.count()
        bonus = [_row(line) for line in lines.filter(bonus=1).order_by("-days", "participant__joined_at", "id")]
        return Report(
            projected=False, status=settlement.status, currency=settlement.currency, rule=settlement.rule,
            share_mode=settlement.share_mode, fee_bps=settlement.fee_bps, days_to_complete=settlement.days_to_complete,
            pool=settlement.pool, forfeited=settlement.forfeited, fee=settlement.fee,
            distributable=settlement.distributable, leftover=settlement.leftover,
            participants=settlement.participants, completers=settlement.completers, rows=rows,
            leftover_recipients=bonus, finished_at=settlement.finished_at, **common,
        )
    participants = list(Participant.objects.filter(challenge=challenge).select_related("user"))
    plan = compute_plan(
        [Member(p.id, int(p.deposit_paid), int(p.total_checkins), p.joined_at) for p in participants],
        days_to_complete=challenge.days_to_complete, share_mode=challenge.share_mode,
        fee_bps=challenge.organiser_fee_bps,
    )
    by_id = {p.id: p for p in participants}
    all_rows = [
        ReportRow(participant_id=line.participant_id, user=by_id[line.participant_id].user, days=line.days,
                  outcome="completed" if line.completed else "failed", deposit=line.deposit, refund=line.refund,
                  share=line.share, bonus=line.bonus, amount=line.amount)
        for line in plan.lines
    ]
    all_rows.sort(key=lambda r: (-r.amount, -r.days, r.participant_id))
    visible = all_rows if sees_all else [r for r in all_rows if r.user.id == user.id]
    end = None if limit is None else offset + limit
    common["total_rows"] = len(visible)
    bonus_rows = [r for r in all_rows if r.bonus]
    bonus_rows.sort(key=lambda r: (-r.days, by_id[r.participant_id].joined_at, r.participant_id))
    return Report(
        projected=True, status="open", currency=challenge.currency, rule=plan.rule, share_mode=plan.share_mode,
        fee_bps=plan.fee_bps, days_to_complete=challenge.days_to_complete, pool=plan.pool,
        forfeited=plan.forfeited, fee=plan.fee, distributable=plan.distributable, leftover=plan.leftover,
        participants=len(plan.lines), completers=sum(1 for line in plan.lines if line.completed),
        rows=visible[offset:end], leftover_recipients=bonus_rows, **common,
    )


def _row(line: SettlementLine) -> ReportRow:
    return ReportRow(
        participant_id=line.participant_id, user=line.participant.user, days=line.days,
        outcome="completed" if line.completed else "failed", deposit=line.deposit, refund=line.refund,
        share=line.share, bonus=line.bonus, amount=line.amount, paid_at=line.paid_at,
    )

