"""Settling a challenge against the database: amounts, the ledger, reruns, failures midway, the command, the task."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from unittest import mock

import pytest
from django.core.management import CommandError, call_command

from quanzi.checkins import settlement as settlement_module
from quanzi.checkins.deposits import challenge_held_balance, deposits_in
from quanzi.checkins.models import ChallengeStatus, Outcome, Participant
from quanzi.checkins.settlement import settle_after, settle_challenge, verify
from quanzi.checkins.settlement_models import Settlement, SettlementLine, SettlementStatus
from quanzi.ledger import services as ledger
from quanzi.ledger.models import AccountKind, Transaction

from .conftest import AFTER, BEFORE, wallet

pytestmark = pytest.mark.django_db


def circle_available(circle) -> int:
    return ledger.balance(ledger.get_account(AccountKind.CIRCLE_AVAILABLE, currency="CNY", circle=circle))


@pytest.fixture
def four(deposit_challenge, paid_member):
    """1000 deposit, 5 of 7 days to complete, 10 % organiser fee, proportional: 2 complete, 2 fail."""
    challenge = deposit_challenge(deposit=1000, share_mode="proportional", organiser_fee_bps=1000)
    users = {
        "ann": paid_member(challenge, "ann", days=7),
        "bob": paid_member(challenge, "bob", days=5),
        "cat": paid_member(challenge, "cat", days=4),
        "dan": paid_member(challenge, "dan", days=0),
    }
    return challenge, users


def test_settlement_pays_completers_shares_and_the_fee(four, circle):
    challenge, users = four
    result = settle_challenge(challenge.id, now=AFTER)
    assert result.status == "settled" and result.paid_now == 4 and result.problems == []
    # forfeited 2000, fee 200, 1800 shared 7:5 → 1050 / 750
    assert {name: wallet(user) for name, user in users.items()} == {"ann": 2050, "bob": 1750, "cat": 0, "dan": 0}
    assert circle_available(circle) == 200
    challenge.refresh_from_db()
    assert challenge.status == ChallengeStatus.SETTLED
    outcomes = dict(Participant.objects.filter(challenge=challenge).values_list("user__username", "outcome"))
    assert outcomes == {"ann": Outcome.COMPLETED, "bob": Outcome.COMPLETED, "cat": Outcome.FAILED,
                        "dan": Outcome.FAILED}
    settled = dict(Participant.objects.filter(challenge=challenge).values_list("user__username", "settled_amount"))
    assert settled == {"ann": 2050, "bob": 1750, "cat": 0, "dan": 0}
    assert not Participant.objects.filter(challenge=challenge, settled_at__isnull=True).exists()
    settlement = Settlement.objects.get(challenge=challenge)
    assert (settlement.pool, settlement.forfeited, settlement.fee, settlement.distributable) == (4000, 2000, 200, 1800)
    assert settlement.status == SettlementStatus.DONE and verify(settlement) == []
    assert challenge_held_balance(challenge) == 0 and deposits_in(challenge) == 4000
    assert ledger.verify_balances() == [] and ledger.verify_transactions() == []
    assert set(ledger.currency_totals().values()) == {0}


def test_a_rerun_pays_nobody_twice(four):
    challenge, users = four
    settle_challenge(challenge.id, now=AFTER)
    txns = Transaction.objects.count()
    assert settle_challenge(challenge.id, now=AFTER).status == "already_settled"
    assert Transaction.objects.count() == txns
    assert wallet(users["ann"]) == 2050


def test_not_before_the_last_window_closes(four):
    challenge, _users = four
    closes = settle_after(challenge)
    assert closes.isoformat() == "2026-03-08T01:00:00+00:00"  # 09:00 in Shanghai on the last day
    assert settle_challenge(challenge.id, now=closes - timedelta(seconds=1)).status == "not_ended"
    assert not Settlement.objects.exists()
    assert settle_challenge(challenge.id, now=closes).status == "settled"


def test_a_failure_midway_rolls_back_that_member_and_the_rerun_finishes(four):
    challenge, users = four
    real_post = ledger.post_transaction
    calls = {"n": 0}

    def flaky(**kwargs):
        if kwargs["kind"] == "checkin.settlement":
            calls["n"] += 1
            if calls["n"] == 2:
                real_post(**kwargs)  # the posting happens, then the worker dies inside the transaction
                raise RuntimeError("worker died")
        return real_post(**kwargs)

    with mock.patch.object(ledger, "post_transaction", flaky), pytest.raises(RuntimeError):
        settle_challenge(challenge.id, now=AFTER)
    assert wallet(users["ann"]) == 2050 and wallet(users["bob"]) == 0  # bob's posting rolled back with his mark
    assert SettlementLine.objects.filter(paid_at__isnull=False).count() == 1
    challenge.refresh_from_db()
    assert challenge.status == ChallengeStatus.SETTLING
    result = settle_challenge(challenge.id, now=AFTER)
    assert (result.status, result.paid_now, result.skipped) == ("settled", 3, 1)
    assert wallet(users["ann"]) == 2050 and wallet(users["bob"]) == 1750
    assert ledger.verify_balances() == [] and challenge_held_balance(challenge) == 0


def test_the_plan_is_fixed_once_stored(four):
    challenge, users = four
    with mock.patch.object(settlement_module, "_pay_line", side_effect=RuntimeError("stop after planning")):
        with pytest.raises(RuntimeError):
            settle_challenge(challenge.id, now=AFTER)
    # A late change to the counts doesn't change a stored plan.
    Participant.objects.filter(challenge=challenge, user=users["cat"]).update(total_checkins=7)
    settle_challenge(challenge.id, now=AFTER)
    assert wallet(users["cat"]) == 0 and wallet(users["ann"]) == 2050


def test_nobody_completes_everyone_gets_the_deposit_back(deposit_challenge, paid_member, circle):
    challenge = deposit_challenge(deposit=999, organiser_fee_bps=5000)
    users = [paid_member(challenge, f"u{i}", days=i) for i in range(3)]
    settle_challenge(challenge.id, now=AFTER)
    assert [wallet(u) for u in users] == [999, 999, 999]
    assert circle_available(circle) == 0
    assert Settlement.objects.get().rule == "no_completers"
    assert set(Participant.objects.values_list("outcome", flat=True)) == {Outcome.FAILED}


def test_leftover_cents_are_recorded(deposit_challenge, paid_member):
    challenge = deposit_challenge(deposit=100)
    done = [paid_member(challenge, f"d{i}", days=5 + i) for i in range(3)]
    paid_member(challenge, "fail", days=1)
    settle_challenge(challenge.id, now=AFTER)
    # 100 forfeited among 3: 33 each, 1 left → the most days (d2).
    assert [wallet(u) for u in done] == [133, 133, 134]
    bonus = SettlementLine.objects.get(bonus=1)
    assert bonus.participant.user == done[2]


def test_a_challenge_without_deposits_settles_outcomes_only(deposit_challenge, paid_member):
    challenge = deposit_challenge(deposit=0)
    paid_member(challenge, "a", days=6, funds=0)
    paid_member(challenge, "b", days=1, funds=0)
    result = settle_challenge(challenge.id, now=AFTER)
    assert result.status == "settled" and not Transaction.objects.filter(kind__startswith="checkin.").exists()
    assert sorted(Participant.objects.values_list("outcome", flat=True)) == [Outcome.COMPLETED, Outcome.FAILED]


def test_check_ins_and_make_ups_are_closed_once_settling(four):
    from quanzi.checkins import actions
    from quanzi.core.errors import InvalidInput

    challenge, users = four
    settle_challenge(challenge.id, now=AFTER)
    with pytest.raises(InvalidInput):
        actions.do_check_in(user=users["cat"], challenge_id=challenge.id, text="late", now=AFTER)


def test_the_management_command(four):
    challenge, users = four
    out = StringIO()
    with mock.patch("quanzi.checkins.settlement.timezone.now", return_value=BEFORE):
        with pytest.raises(CommandError, match="not ended"):
            call_command("settle_challenge", challenge.id, stdout=out)
        call_command("settle_challenge", challenge.id, "--force", stdout=out)
    assert "paid 4 member(s) now" in out.getvalue()
    call_command("settle_challenge", challenge.id, stdout=out)
    assert "already_settled" in out.getvalue()
    with pytest.raises(CommandError, match="challenge_not_found"):
        call_command("settle_challenge", 999999, stdout=out)
    assert wallet(users["ann"]) == 2050


def test_the_task_settles_and_an_early_run_waits(four):
    from quanzi.checkins.settlement_tasks import settle_challenge_task

    challenge, users = four
    with (mock.patch("quanzi.checkins.settlement_tasks.schedule_settlement") as again,
          mock.patch("quanzi.checkins.settlement.timezone.now", return_value=BEFORE)):
        assert settle_challenge_task.call(challenge_id=challenge.id) == "not_ended"
    again.assert_called_once_with(challenge.id)
    assert settle_challenge_task.call(challenge_id=challenge.id) == "settled"
    assert wallet(users["bob"]) == 1750


def test_a_due_run_queues_a_follow_up_that_completes_a_killed_run(four, caplog):
    """The watchdog: a run queues the next one before paying; the next finds the work done or finishes it."""
    from quanzi.checkins.settlement_tasks import MAX_ATTEMPTS, RETRY_AFTER, settle_challenge_task

    challenge, users = four
    with (mock.patch("quanzi.payments.tasks.schedule") as schedule,
          mock.patch("quanzi.checkins.settlement_tasks.timezone.now", return_value=AFTER),
          mock.patch("quanzi.checkins.settlement._crash_hook", side_effect=SystemExit("killed"))):
        with pytest.raises(SystemExit):  # the worker dies right after planning, before paying anyone
            settle_challenge_task.call(challenge_id=challenge.id)
    (follow_up,) = schedule.call_args_list
    assert follow_up.args[0] is settle_challenge_task and follow_up.args[1] == AFTER + RETRY_AFTER
    assert follow_up.kwargs == {"challenge_id": challenge.id, "attempt": 1}
    assert wallet(users["bob"]) == 0
    # The follow-up runs: it queues its own follow-up, then pays everyone once.
    with (mock.patch("quanzi.payments.tasks.schedule") as schedule,
          mock.patch("quanzi.checkins.settlement_tasks.timezone.now", return_value=AFTER + RETRY_AFTER)):
        assert settle_challenge_task.call(challenge_id=challenge.id, attempt=1) == "settled"
    assert schedule.call_args.kwargs["attempt"] == 2
    assert wallet(users["bob"]) == 1750
    # Its follow-up finds the challenge settled and ends the chain.
    with mock.patch("quanzi.payments.tasks.schedule") as schedule:
        assert settle_challenge_task.call(challenge_id=challenge.id, attempt=2) == "already_settled"
    schedule.assert_not_called()
    assert wallet(users["bob"]) == 1750
    # A chain that never finishes stops queueing after MAX_ATTEMPTS and says so in the log.
    with (mock.patch("quanzi.payments.tasks.schedule") as schedule,
          mock.patch("quanzi.checkins.settlement_models.Settlement.objects") as settlements,
          mock.patch("quanzi.checkins.settlement_tasks.timezone.now", return_value=AFTER),
          mock.patch("quanzi.checkins.settlement.settle_challenge") as settle):
        settlements.filter.return_value.exists.return_value = False
        settle.return_value.status = "mismatch"
        settle_challenge_task.call(challenge_id=challenge.id, attempt=MAX_ATTEMPTS)
    schedule.assert_not_called()
    assert "still unfinished" in caplog.text
    assert settle_challenge_task.call(challenge_id=999999) == "challenge_not_found"


def test_creating_or_retiming_a_challenge_schedules_its_settlement(
    deposit_challenge, owner, django_capture_on_commit_callbacks
):
    from quanzi.checkins import actions

    with mock.patch("quanzi.payments.tasks.schedule") as schedule:
        with django_capture_on_commit_callbacks(execute=True):
            challenge = deposit_challenge(deposit=100)
        calls = [c for c in schedule.call_args_list if c.args[0].name == "settle_challenge_task"]
        assert len(calls) == 1 and calls[0].args[1] == settle_after(challenge)
        assert calls[0].kwargs == {"challenge_id": challenge.id}
        schedule.reset_mock()
        with django_capture_on_commit_callbacks(execute=True):
            actions.do_update_challenge(actor=owner, challenge=challenge, now=BEFORE, title="New title")
        assert not [c for c in schedule.call_args_list if c.args[0].name == "settle_challenge_task"]
        with django_capture_on_commit_callbacks(execute=True):
            actions.do_update_challenge(actor=owner, challenge=challenge, now=BEFORE,
                                        end_date=challenge.end_date.replace(day=10))
        calls = [c for c in schedule.call_args_list if c.args[0].name == "settle_challenge_task"]
        assert len(calls) == 1 and calls[0].args[1].isoformat() == "2026-03-10T01:00:00+00:00"


def test_each_member_gets_one_notice_and_the_event_is_recorded(four):
    from quanzi.chat.models import Notice
    from quanzi.core.models import DomainEvent

    challenge, users = four
    settle_challenge(challenge.id, now=AFTER)
    settle_challenge(challenge.id, now=AFTER)
    notices = {n.user.username: n.text for n in Notice.objects.filter(kind="challenge").select_related("user")}
    assert set(notices) == {"ann", "bob", "cat", "dan"}
    assert "¥20.50 went to your wallet" in notices["ann"]
    assert "shared among those who did" in notices["cat"]
    assert Notice.objects.filter(kind="challenge").count() == 4
    assert DomainEvent.objects.filter(type="challenge.settled").count() == 1
