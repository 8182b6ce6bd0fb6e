"""The settlement arithmetic (``compute_plan``): properties over random outcomes, deposits, fees and
modes, and the written-down rules (leftover cents, nobody completes, everybody completes) by example."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quanzi.checkins.settlement import (
    EVEN,
    PROPORTIONAL,
    RULE_ALL_COMPLETED,
    RULE_NO_COMPLETERS,
    RULE_NO_PARTICIPANTS,
    RULE_SHARED,
    Member,
    compute_plan,
)
from quanzi.core.errors import InvalidInput

pytestmark = pytest.mark.db_independent  # no database or Redis: make test runs it in the SQLite pass only

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def members_from(rows) -> list[Member]:
    return [Member(participant_id=i + 1, deposit=dep, days=days, joined_at=T0 + timedelta(minutes=minute))
            for i, (dep, days, minute) in enumerate(rows)]


member_rows = st.lists(
    st.tuples(st.integers(0, 10**9), st.integers(0, 40), st.integers(0, 10_000)), min_size=0, max_size=40
)
same_deposit_rows = st.integers(1, 10**7).flatmap(
    lambda dep: st.lists(st.tuples(st.just(dep), st.integers(0, 40), st.integers(0, 100)), min_size=1, max_size=60)
)


@settings(max_examples=400, deadline=None)
@given(rows=st.one_of(member_rows, same_deposit_rows), need=st.integers(0, 40),
       mode=st.sampled_from([EVEN, PROPORTIONAL]), fee_bps=st.integers(0, 10_000))
def test_money_is_conserved_and_nobody_gets_a_negative_amount(rows, need, mode, fee_bps):
    members = members_from(rows)
    plan = compute_plan(members, days_to_complete=need, share_mode=mode, fee_bps=fee_bps)
    pool = sum(m.deposit for m in members)
    # deposits in = refunds + shares + fee, exactly
    assert plan.refunds + plan.shares + plan.fee == pool == plan.pool
    assert sum(line.amount for line in plan.lines) + plan.fee == pool
    assert all(line.refund >= 0 and line.share >= 0 and line.bonus in (0, 1) for line in plan.lines)
    assert 0 <= plan.fee <= plan.forfeited
    by_id = {m.participant_id: m for m in members}
    completers = [line for line in plan.lines if line.completed]
    for line in plan.lines:
        member = by_id[line.participant_id]
        assert line.completed == (member.days >= need)
        if line.completed:
            assert line.refund == member.deposit  # a completer never gets less than their deposit back
        elif plan.rule == RULE_NO_COMPLETERS:
            assert line.amount == member.deposit  # nobody completed: everyone refunded in full
        else:
            assert line.amount == 0  # failed: forfeited
    # The leftover cents: fewer than the completers, one each, to the first in the stated order.
    assert plan.leftover == sum(line.bonus for line in plan.lines)
    assert plan.leftover < max(len(completers), 1)
    order = sorted((m for m in members if m.days >= need),
                   key=lambda m: (-m.days, m.joined_at, m.participant_id))
    assert set(plan.leftover_recipients) == {m.participant_id for m in order[:plan.leftover]}
    # Fee: the stated rounding (down), only on forfeits that are shared.
    assert plan.fee == plan.forfeited * fee_bps // 10_000
    if plan.rule != RULE_SHARED:
        assert plan.forfeited == plan.fee == 0


@settings(max_examples=200, deadline=None)
@given(rows=same_deposit_rows, need=st.integers(0, 40), fee_bps=st.integers(0, 10_000))
def test_even_shares_differ_by_at_most_one_unit(rows, need, fee_bps):
    plan = compute_plan(members_from(rows), days_to_complete=need, share_mode=EVEN, fee_bps=fee_bps)
    gains = [line.share + line.bonus for line in plan.lines if line.completed]
    if gains:
        assert max(gains) - min(gains) <= 1


@settings(max_examples=200, deadline=None)
@given(rows=member_rows, need=st.integers(1, 40), fee_bps=st.integers(0, 10_000))
def test_proportional_shares_follow_days(rows, need, fee_bps):
    plan = compute_plan(members_from(rows), days_to_complete=need, share_mode=PROPORTIONAL, fee_bps=fee_bps)
    completers = [line for line in plan.lines if line.completed]
    total_days = sum(line.days for line in completers)
    for line in completers:
        exact = plan.distributable * line.days / total_days
        assert line.share <= exact < line.share + 1  # the floor of the exact proportional share
    for a in completers:
        for b in completers:
            if a.days > b.days:
                assert a.share + a.bonus >= b.share + b.bonus  # more days never gets less


@settings(max_examples=100, deadline=None)
@given(rows=member_rows, need=st.integers(0, 40), mode=st.sampled_from([EVEN, PROPORTIONAL]),
       fee_bps=st.integers(0, 10_000), seed=st.randoms())
def test_the_plan_does_not_depend_on_input_order(rows, need, mode, fee_bps, seed):
    members = members_from(rows)
    shuffled = list(members)
    seed.shuffle(shuffled)
    assert compute_plan(members, days_to_complete=need, share_mode=mode, fee_bps=fee_bps) == compute_plan(
        shuffled, days_to_complete=need, share_mode=mode, fee_bps=fee_bps)


# --- the rules, by example ------------------------------------------------------------------------------


def test_leftover_cents_go_to_most_days_then_earliest_join_then_lowest_id():
    # 3 completers share 100 forfeited: floors 33 each, 1 left over.
    members = [
        Member(1, 100, 10, T0 + timedelta(minutes=5)),
        Member(2, 100, 12, T0 + timedelta(minutes=9)),  # most days → gets the cent
        Member(3, 100, 10, T0),
        Member(4, 100, 2, T0),  # failed
    ]
    plan = compute_plan(members, days_to_complete=10, share_mode=EVEN, fee_bps=0)
    assert plan.rule == RULE_SHARED and plan.forfeited == 100 and plan.leftover == 1
    assert [(line.participant_id, line.amount) for line in plan.lines] == [(1, 133), (2, 134), (3, 133), (4, 0)]
    # Two cents left: the most days first, then the earlier join among equals (3 joined before 1).
    plan = compute_plan([*members, Member(5, 2, 0, T0)], days_to_complete=10, share_mode=EVEN, fee_bps=0)
    assert plan.distributable == 102 and plan.leftover == 0
    members[3] = Member(4, 101, 2, T0)
    plan = compute_plan(members, days_to_complete=10, share_mode=EVEN, fee_bps=0)
    assert plan.leftover == 2 and plan.leftover_recipients == [2, 3]
    # Same days and the same join time: the lower id.
    same = [Member(7, 10, 5, T0), Member(6, 10, 5, T0), Member(8, 11, 0, T0)]
    assert compute_plan(same, days_to_complete=5, share_mode=EVEN, fee_bps=0).leftover_recipients == [6]


def test_proportional_shares_and_the_fee():
    members = [Member(1, 1000, 20, T0), Member(2, 1000, 10, T0), Member(3, 1000, 3, T0), Member(4, 1000, 0, T0)]
    plan = compute_plan(members, days_to_complete=10, share_mode=PROPORTIONAL, fee_bps=1000)  # 10 % fee
    assert plan.forfeited == 2000 and plan.fee == 200 and plan.distributable == 1800
    assert [line.amount for line in plan.lines] == [1000 + 1200, 1000 + 600, 0, 0]
    plan = compute_plan(members, days_to_complete=10, share_mode=PROPORTIONAL, fee_bps=333)  # 66.6 → 66
    assert plan.fee == 66 and plan.distributable == 1934
    # 1289.33 / 644.67: floors 1289 + 644, one unit left → the most days (not the largest remainder).
    assert [(line.share, line.bonus) for line in plan.lines[:2]] == [(1289, 1), (644, 0)]


def test_nobody_completes_everyone_is_refunded_without_a_fee():
    members = [Member(1, 500, 3, T0), Member(2, 700, 0, T0)]
    plan = compute_plan(members, days_to_complete=10, share_mode=EVEN, fee_bps=2500)
    assert plan.rule == RULE_NO_COMPLETERS and plan.fee == 0 and plan.forfeited == 0
    assert [line.amount for line in plan.lines] == [500, 700]
    assert not any(line.completed for line in plan.lines)


def test_everybody_completes_everyone_gets_exactly_their_deposit():
    members = [Member(1, 500, 10, T0), Member(2, 700, 14, T0)]
    plan = compute_plan(members, days_to_complete=10, share_mode=PROPORTIONAL, fee_bps=2500)
    assert plan.rule == RULE_ALL_COMPLETED and plan.fee == 0
    assert [line.amount for line in plan.lines] == [500, 700]


def test_proportional_with_zero_days_everywhere_falls_back_to_even():
    # Completers with 0 days exist only when 0 days complete, and then everyone completes: the guard
    # against dividing by zero leaves every deposit untouched.
    members = [Member(1, 100, 0, T0), Member(2, 100, 0, T0), Member(3, 101, 0, T0)]
    plan = compute_plan(members, days_to_complete=0, share_mode=PROPORTIONAL, fee_bps=0)
    assert plan.rule == RULE_ALL_COMPLETED and [line.amount for line in plan.lines] == [100, 100, 101]


def test_no_participants():
    plan = compute_plan([], days_to_complete=3, share_mode=EVEN, fee_bps=100)
    assert plan.rule == RULE_NO_PARTICIPANTS and plan.pool == 0 and plan.lines == ()


@pytest.mark.parametrize(
    ("kwargs", "members", "code"),
    [
        ({"share_mode": "random"}, [], "invalid_share_mode"),
        ({"fee_bps": 10_001}, [], "invalid_fee"),
        ({"fee_bps": -1}, [], "invalid_fee"),
        ({"fee_bps": 1.5}, [], "invalid_fee"),
        ({"days_to_complete": -1}, [], "invalid_days"),
        ({}, [Member(1, -1, 0)], "invalid_member"),
        ({}, [Member(1, 1, -2)], "invalid_member"),
        ({}, [Member(1, 1.5, 0)], "invalid_member"),
        ({}, [Member(1, 1, 0), Member(1, 2, 0)], "duplicate_participant"),
    ],
)
def test_bad_input_is_refused(kwargs, members, code):
    args = {"days_to_complete": 1, "share_mode": EVEN, "fee_bps": 0, **kwargs}
    with pytest.raises(InvalidInput) as error:
        compute_plan(members, **args)
    assert error.value.code == code
