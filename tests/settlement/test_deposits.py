"""Paying the deposit on joining: wallet → deposits held in the join's own transaction; refusals store nothing."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest

from quanzi.checkins import actions
from quanzi.checkins.deposits import challenge_held_balance, deposits_in, pay_deposit, refund_deposit
from quanzi.checkins.models import Participant
from quanzi.circles import actions as circle_actions
from quanzi.core.errors import Conflict
from quanzi.core.models import AuditEntry
from quanzi.ledger import services as ledger
from quanzi.ledger.models import Transaction

from .conftest import BEFORE, fund, wallet

pytestmark = pytest.mark.django_db


@pytest.fixture
def member_with(make_user, circle):
    def make(name: str, funds: int):
        user = make_user(name)
        circle_actions.do_join_circle(user=user, circle=circle)
        if funds:
            fund(user, funds)
        return user

    return make


def test_joining_pays_the_deposit_from_the_wallet(deposit_challenge, member_with):
    challenge = deposit_challenge(deposit=1500)
    user = member_with("ann", 2000)
    participant = actions.do_join_challenge(user=user, challenge=challenge, now=BEFORE)
    participant.refresh_from_db()
    assert participant.deposit_paid == 1500 and participant.deposit_txn.kind == "checkin.deposit"
    assert participant.deposit_txn.idempotency_key == f"chl{challenge.id}-deposit-{participant.id}"
    assert wallet(user) == 500
    assert challenge_held_balance(challenge) == 1500 == deposits_in(challenge)
    assert ledger.verify_balances() == []


@pytest.mark.parametrize("funds", [0, 1, 1499])
def test_insufficient_balance_is_a_clear_error_and_nothing_is_stored(deposit_challenge, member_with, funds):
    challenge = deposit_challenge(deposit=1500)
    user = member_with("bob", funds)
    transactions = Transaction.objects.count()
    audits = AuditEntry.objects.count()
    with pytest.raises(Conflict) as error:
        actions.do_join_challenge(user=user, challenge=challenge, now=BEFORE)
    assert error.value.code == "insufficient_funds"
    assert "15.00" in error.value.message and "Top up" in error.value.message
    assert not Participant.objects.filter(challenge=challenge).exists()  # joining and paying: one transaction
    assert Transaction.objects.count() == transactions and AuditEntry.objects.count() == audits
    assert wallet(user) == funds and challenge_held_balance(challenge) == 0


def test_join_and_pay_happen_once(deposit_challenge, member_with):
    challenge = deposit_challenge(deposit=1000)
    user = member_with("cat", 5000)
    participant = actions.do_join_challenge(user=user, challenge=challenge, now=BEFORE)
    with pytest.raises(Conflict) as error:
        actions.do_join_challenge(user=user, challenge=challenge, now=BEFORE)
    assert error.value.code == "already_joined"
    participant.refresh_from_db()
    assert pay_deposit(participant).id == participant.deposit_txn_id  # paying again returns the first posting
    assert wallet(user) == 4000 and challenge_held_balance(challenge) == 1000
    assert Transaction.objects.filter(kind="checkin.deposit").count() == 1


def test_a_challenge_without_deposit_moves_no_money(deposit_challenge, member_with):
    challenge = deposit_challenge(deposit=0)
    user = member_with("dan", 0)
    participant = actions.do_join_challenge(user=user, challenge=challenge, now=BEFORE)
    assert participant.deposit_paid == 0 and participant.deposit_txn is None
    assert not Transaction.objects.filter(kind="checkin.deposit").exists()


def test_deposits_are_in_the_challenge_currency(circle, deposit_challenge, member_with):
    circle.currency = "USD"
    circle.save(update_fields=["currency"])
    challenge = deposit_challenge(deposit=300)
    user = member_with("eve", 0)
    fund(user, 1000)  # CNY: no use for a USD deposit
    with pytest.raises(Conflict):
        actions.do_join_challenge(user=user, challenge=challenge, now=BEFORE)
    fund(user, 300, currency="USD")
    actions.do_join_challenge(user=user, challenge=challenge, now=BEFORE)
    assert wallet(user, "USD") == 0 and wallet(user, "CNY") == 1000


def test_leaving_before_the_start_gives_the_deposit_back_once(deposit_challenge, member_with):
    challenge = deposit_challenge(deposit=800)
    user = member_with("fay", 800)
    participant = actions.do_join_challenge(user=user, challenge=challenge, now=BEFORE)
    participant.refresh_from_db()
    txn = refund_deposit(participant)
    assert txn.reverses_id == participant.deposit_txn_id and txn.kind == "checkin.deposit_refund"
    assert refund_deposit(participant).id == txn.id
    assert wallet(user) == 800 and challenge_held_balance(challenge) == 0 and deposits_in(challenge) == 0
    participant.refresh_from_db()
    assert participant.deposit_paid == 0
    assert ledger.verify_balances() == []


def test_leaving_before_the_start_refunds_and_removes_the_participation(deposit_challenge, member_with, circle):
    from django.test import Client
    from django.urls import reverse

    challenge = deposit_challenge(deposit=700)
    user = member_with("gus", 1000)
    actions.do_join_challenge(user=user, challenge=challenge, now=BEFORE)
    actions.do_leave_challenge(user=user, challenge=challenge, now=BEFORE)
    assert not Participant.objects.filter(challenge=challenge).exists()
    assert wallet(user) == 1000 and challenge_held_balance(challenge) == 0
    assert AuditEntry.objects.filter(action="challenge.leave").count() == 1
    with pytest.raises(Conflict) as error:
        actions.do_leave_challenge(user=user, challenge=challenge, now=BEFORE)
    assert error.value.code == "not_participant"
    # Joining again pays again (a new participation, a new key); the web page leaves too.
    actions.do_join_challenge(user=user, challenge=challenge, now=BEFORE)
    assert wallet(user) == 300
    client = Client()
    client.force_login(user)
    from unittest import mock

    with mock.patch("quanzi.checkins.actions.timezone.now", return_value=BEFORE):
        response = client.post(reverse("checkins_leave", args=[circle.slug, challenge.id]))
    assert response.status_code == 302 and wallet(user) == 1000
    assert Transaction.objects.filter(kind="checkin.deposit_refund").count() == 2
    assert ledger.verify_balances() == []


def test_no_leaving_once_started(deposit_challenge, member_with):
    from .conftest import START

    challenge = deposit_challenge(deposit=700)
    user = member_with("hal", 700)
    actions.do_join_challenge(user=user, challenge=challenge, now=BEFORE)
    started = datetime.combine(START, time(7), tzinfo=ZoneInfo("Asia/Shanghai"))
    with pytest.raises(Conflict) as error:
        actions.do_leave_challenge(user=user, challenge=challenge, now=started)
    assert error.value.code == "challenge_started"
    assert Participant.objects.filter(challenge=challenge).exists() and wallet(user) == 0
    assert challenge_held_balance(challenge) == 700


def test_leave_through_the_api(deposit_challenge, member_with):
    from api.helpers import ApiClient

    challenge = deposit_challenge(deposit=700)
    user = member_with("ivy", 700)
    actions.do_join_challenge(user=user, challenge=challenge, now=BEFORE)
    api = ApiClient(user)
    response = api.post(f"/api/challenges/{challenge.id}/leave", {})
    # The fixture's dates are in the past (March 2026): the real clock says it has started.
    assert response.status_code == 409 and response.data["code"] == "challenge_started"
    from unittest import mock

    with mock.patch("quanzi.checkins.actions.timezone.now", return_value=BEFORE):
        assert api.post(f"/api/challenges/{challenge.id}/leave", {}).data == {"ok": True}
        again = api.post(f"/api/challenges/{challenge.id}/leave", {})
    assert again.status_code == 409 and again.data["code"] == "not_participant"
    assert wallet(user) == 700
