"""Fixtures for deposits and settlement: funded wallets, deposit challenges, members who joined."""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime, time

import pytest
from django.utils import translation

from quanzi.checkins import actions
from quanzi.checkins.models import Participant
from quanzi.ledger import services as ledger
from quanzi.ledger.models import AccountKind

# Monday 2 March … Sunday 8 March 2026 in Shanghai, window 06:00–09:00.
START, END = date(2026, 3, 2), date(2026, 3, 8)
BEFORE = datetime(2026, 2, 20, 12, 0, tzinfo=zoneinfo.ZoneInfo("UTC"))
AFTER = datetime(2026, 3, 9, 12, 0, tzinfo=zoneinfo.ZoneInfo("UTC"))


@pytest.fixture(autouse=True)
def _english():
    """Messages are asserted in English, whatever an earlier test left active."""
    with translation.override("en"):
        yield


def fund(user, amount: int, *, currency: str = "CNY", key: str | None = None) -> None:
    """Money into a wallet the way a paid top-up puts it there (provider_clearing → wallet)."""
    ledger.post_transaction(
        kind="test.topup", idempotency_key=key or f"test-fund-{user.id}-{amount}",
        legs=[(ledger.get_account(AccountKind.PROVIDER_CLEARING, currency=currency, provider="sandbox"), -amount),
              (ledger.get_account(AccountKind.WALLET, currency=currency, user=user), amount)],
    )


def wallet(user, currency: str = "CNY") -> int:
    return ledger.balance(ledger.get_account(AccountKind.WALLET, currency=currency, user=user))


@pytest.fixture
def deposit_challenge(circle, owner):
    """``deposit_challenge(deposit=1000, **fields)``: a 7-day challenge in the ``circle``, created before it starts."""

    def make(*, deposit: int = 1000, now: datetime = BEFORE, **fields):
        if circle.timezone != "Asia/Shanghai":
            circle.timezone = "Asia/Shanghai"
            circle.save(update_fields=["timezone"])
        values = {"title": "早起 Early birds", "start_date": START, "end_date": END, "window_start": time(6, 0),
                  "window_end": time(9, 0), "days_to_complete": 5, "deposit_amount": deposit}
        values.update(fields)
        return actions.do_create_challenge(actor=owner, circle=circle, now=now, **values)

    return make


@pytest.fixture
def paid_member(make_user, circle):
    """``paid_member(challenge, name, days=0, funds=None)``: a funded circle member who joined (paying the
    deposit) before the start, with ``days`` check-ins counted."""
    from quanzi.circles import actions as circle_actions

    def join(challenge, name: str | None = None, *, days: int = 0, funds: int | None = None):
        user = make_user(name)
        circle_actions.do_join_circle(user=user, circle=circle)
        amount = challenge.deposit_amount if funds is None else funds
        if amount:
            fund(user, amount)
        actions.do_join_challenge(user=user, challenge=challenge, now=BEFORE)
        Participant.objects.filter(challenge=challenge, user=user).update(total_checkins=days)
        return user

    return join
