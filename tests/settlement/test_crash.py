"""Crash safety for real: the settlement runs in its own process (``quanzi manage settle_challenge``), which
SIGKILLs itself at chosen points (``QUANZI_SETTLE_KILL_AT``); rerun until done, then nobody is paid twice or
missed. On SQLite the test database is copied to a file the worker opens (and copied back to check); on
PostgreSQL the worker connects to the test database itself. Also: two settlements racing on PostgreSQL."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from datetime import UTC, date, datetime, time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from racing import race

from quanzi.checkins import actions
from quanzi.checkins.deposits import challenge_held_balance
from quanzi.checkins.models import ChallengeStatus, Participant
from quanzi.checkins.settlement import settle_challenge
from quanzi.checkins.settlement_models import Settlement, SettlementLine, SettlementStatus
from quanzi.circles import actions as circle_actions
from quanzi.ledger import services as ledger
from quanzi.ledger.models import AccountKind, Transaction

from .conftest import fund, wallet

BEFORE = datetime(2026, 2, 20, 12, 0, tzinfo=UTC)
DEPOSIT = 1003  # odd: leftover cents appear


def build(owner, circle, make_user, members: int = 6):
    challenge = actions.do_create_challenge(
        actor=owner, circle=circle, now=BEFORE, title="Crash", start_date=date(2026, 3, 2),
        end_date=date(2026, 3, 8), window_start=time(6), window_end=time(9), days_to_complete=5,
        deposit_amount=DEPOSIT, share_mode="proportional", organiser_fee_bps=750,
    )
    for i in range(members):
        user = make_user(f"m{i}")
        circle_actions.do_join_circle(user=user, circle=circle)
        fund(user, DEPOSIT)
        actions.do_join_challenge(user=user, challenge=challenge, now=BEFORE)
        Participant.objects.filter(challenge=challenge, user=user).update(total_checkins=(i * 3) % 8)
    return challenge


class Worker:
    """Runs the settlement command in a child process against this test's database."""

    def __init__(self, tmp_path: Path) -> None:
        connection.ensure_connection()
        self.sqlite = connection.vendor == "sqlite"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
        self.env["DJANGO_SETTINGS_MODULE"] = "quanzi.settings"
        if self.sqlite:
            self.file = tmp_path / "quanzi.sqlite3"
            self.env.pop("QUANZI_DATABASE_URL", None)
            self.env["QUANZI_DATA_DIR"] = str(tmp_path)
        else:
            s = connection.settings_dict
            auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
            host = f"{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}"
            self.env["QUANZI_DATABASE_URL"] = f"postgres://{auth}@{host}/{s['NAME']}"

    def run(self, challenge_id: int, kill_at: str | None) -> subprocess.CompletedProcess:
        if self.sqlite:  # the committed test database → the worker's file
            with sqlite3.connect(self.file) as target:
                connection.connection.backup(target)
        env = dict(self.env)
        if kill_at:
            env["QUANZI_SETTLE_KILL_AT"] = kill_at
        done = subprocess.run(
            [sys.executable, "-m", "django", "settle_challenge", str(challenge_id), "--force"],
            env=env, capture_output=True, text=True, timeout=180,
        )
        connection.close()
        if self.sqlite:  # … and what the worker left behind, back into the test database
            with sqlite3.connect(self.file) as source:
                connection.ensure_connection()
                source.backup(connection.connection)
        return done


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_at_any_point_and_rerun_pays_everyone_exactly_once(owner, circle, make_user, tmp_path):
    challenge = build(owner, circle, make_user)
    worker = Worker(tmp_path)
    # Killed right after storing the plan, inside the 2nd payment (posted, not committed), after the
    # next member committed; then a clean run finishes.
    for kill_at in ("planned:0", "inside:2", "between:1"):
        done = worker.run(challenge.id, kill_at)
        assert done.returncode == -signal.SIGKILL, (kill_at, done.returncode, done.stderr[-2000:])
        assert Settlement.objects.get(challenge=challenge).status == SettlementStatus.PLANNED
    assert SettlementLine.objects.filter(paid_at__isnull=False).count() == 2  # between:1 after inside:2 rolled back
    done = worker.run(challenge.id, None)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "paid 4 member(s) now, 2 already paid earlier" in done.stdout

    settlement = Settlement.objects.get(challenge=challenge)
    assert settlement.status == SettlementStatus.DONE
    lines = list(SettlementLine.objects.filter(settlement=settlement).select_related("participant__user"))
    assert len(lines) == 6 and all(line.paid_at is not None for line in lines)
    for line in lines:
        key = f"chl{challenge.id}-settle-{line.participant_id}"
        assert Transaction.objects.filter(idempotency_key=key).count() == (1 if line.amount else 0)
        assert wallet(line.participant.user) == line.amount  # paid exactly once, nobody missed
        assert line.participant.settled_amount == line.amount and line.participant.settled_at is not None
    assert sum(line.amount for line in lines) + settlement.fee == 6 * DEPOSIT
    assert Transaction.objects.filter(idempotency_key=f"chl{challenge.id}-fee").count() == 1
    assert ledger.balance(ledger.get_account(AccountKind.CIRCLE_AVAILABLE, currency="CNY", circle=circle)) == \
        settlement.fee > 0
    assert challenge_held_balance(challenge) == 0
    assert ledger.verify_balances() == [] and ledger.verify_transactions() == []
    challenge.refresh_from_db()
    assert challenge.status == ChallengeStatus.SETTLED


@pytest.mark.skipif(not settings.IS_POSTGRES, reason="row locks are a no-op on SQLite; this race runs on PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_parallel_settlements_pay_once(owner, circle, make_user):
    challenge = build(owner, circle, make_user, members=8)
    results = race(8, lambda i: settle_challenge(challenge.id, force=True).paid_now, threads=8)
    assert all(kind == "ok" for kind, _value in results), results
    assert sum(value for _kind, value in results) == 8  # each member paid by exactly one run
    assert Settlement.objects.filter(challenge=challenge).count() == 1
    for line in SettlementLine.objects.select_related("participant__user"):
        assert wallet(line.participant.user) == line.amount
        assert Transaction.objects.filter(idempotency_key=f"chl{challenge.id}-settle-{line.participant_id}").count() \
            == (1 if line.amount else 0)
    assert challenge_held_balance(challenge) == 0 and ledger.verify_balances() == []
    assert Settlement.objects.get(challenge=challenge).status == SettlementStatus.DONE
