"""Paid memberships over time: scheduled tasks, reminders, expiry (read-only or removal), renewal after expiry."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from quanzi.chat import actions as chat_actions
from quanzi.chat.models import Group, Notice
from quanzi.circles.models import Membership, MembershipStatus
from quanzi.core.errors import Forbidden
from quanzi.core.models import DomainEvent
from quanzi.payments import tasks
from quanzi.payments.models import Order

from .conftest import deliver, order_for, sandbox_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def paid_member(circle, monthly, payer):
    order = order_for(payer, circle, monthly, key="first")
    assert deliver(sandbox_event(order)).status_code == 200
    return Membership.objects.get(circle=circle, user=payer)


def expire_now(membership) -> str:
    """Move the paid-through date into the past, as time passing would; the stamp the task was given."""
    past = timezone.now() - timedelta(minutes=1)
    Membership.objects.filter(id=membership.id).update(paid_until=past)
    return past.isoformat()


def post(user, circle):
    return chat_actions.do_send_message(sender=user, group=Group.objects.get(id=circle.main_group_id), body="hi")


def test_read_only_after_expiry_then_renewal_lets_the_member_post_again(circle, monthly, payer, paid_member):
    post(payer, circle)
    stamp = expire_now(paid_member)
    with pytest.raises(Forbidden) as error:
        post(payer, circle)
    assert error.value.code == "membership_expired"
    assert tasks.expire_paid_membership.call(membership_id=paid_member.id, paid_until=stamp) == "read_only"
    assert tasks.expire_paid_membership.call(membership_id=paid_member.id, paid_until=stamp) == "skipped"
    assert Notice.objects.filter(user=payer, text__contains="read but not post").count() == 1
    assert DomainEvent.objects.filter(type="membership.expired", target_user=payer).count() == 1
    membership = Membership.objects.get(id=paid_member.id)
    assert membership.status == MembershipStatus.ACTIVE  # still reads

    renewal = order_for(payer, circle, monthly, key="renew")
    deliver(sandbox_event(renewal))
    renewal.refresh_from_db()
    assert renewal.previous_paid_until is None  # expired: the new period starts now, not at the old end
    assert Membership.objects.get(id=paid_member.id).paid_until > timezone.now() + timedelta(days=27)
    post(payer, circle)


def test_remove_mode_removes_the_expired_member(circle, payer, paid_member):
    type(circle).objects.filter(id=circle.id).update(expiry_action="remove")
    stamp = expire_now(paid_member)
    assert tasks.expire_paid_membership.call(membership_id=paid_member.id, paid_until=stamp) == "removed"
    membership = Membership.objects.get(id=paid_member.id)
    assert membership.status == MembershipStatus.LEFT and membership.paid_until is None
    assert DomainEvent.objects.filter(type="member.left", target_user=payer, data__reason="expired").exists()
    assert tasks.expire_paid_membership.call(membership_id=paid_member.id, paid_until=stamp) == "skipped"


def test_expiry_and_reminder_skip_a_renewed_membership(circle, monthly, payer, paid_member):
    stamp = paid_member.paid_until.isoformat()
    deliver(sandbox_event(order_for(payer, circle, monthly, key="renew")))
    assert tasks.expire_paid_membership.call(membership_id=paid_member.id, paid_until=stamp) == "skipped"
    assert tasks.send_renewal_reminder.call(membership_id=paid_member.id, paid_until=stamp) == "skipped"
    assert Membership.objects.get(id=paid_member.id).status == MembershipStatus.ACTIVE


def test_a_reminder_is_sent_once(circle, payer, paid_member):
    stamp = paid_member.paid_until.isoformat()
    assert tasks.send_renewal_reminder.call(membership_id=paid_member.id, paid_until=stamp) == "reminded"
    assert tasks.send_renewal_reminder.call(membership_id=paid_member.id, paid_until=stamp) == "skipped"
    assert Notice.objects.filter(user=payer, text__contains="Renew it").count() == 1


def test_an_early_expiry_run_changes_nothing(circle, payer, paid_member):
    stamp = paid_member.paid_until.isoformat()
    assert tasks.expire_paid_membership.call(membership_id=paid_member.id, paid_until=stamp) == "skipped"
    post(payer, circle)


def test_settlement_waits_for_the_refund_window(circle, payer, paid_member):
    order = Order.objects.get(user=payer)
    assert tasks.settle_order_revenue.call(order_id=order.id) == "not_due"
    Order.objects.filter(id=order.id).update(refund_until=timezone.now() - timedelta(seconds=1))
    assert tasks.settle_order_revenue.call(order_id=order.id) == "settled"
    order.refresh_from_db()
    from quanzi.core.errors import Forbidden as Refused
    from quanzi.payments import actions

    with pytest.raises(Refused) as error:  # settled revenue is no longer refundable
        actions.do_refund_order(actor=payer, order=order)
    assert error.value.code == "refund_window_passed"


def test_payment_schedules_its_tasks_with_the_database_backend(settings, circle, monthly, payer):
    from django_tasks_db.models import DBTaskResult

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
    order = order_for(payer, circle, monthly)
    deliver(sandbox_event(order))
    order.refresh_from_db()
    membership = Membership.objects.get(circle=circle, user=payer)
    scheduled = {row.task_path.rsplit(".", 1)[1]: row for row in DBTaskResult.objects.all()}
    assert set(scheduled) == {"settle_order_revenue", "send_renewal_reminder", "expire_paid_membership"}
    assert scheduled["settle_order_revenue"].run_after == order.refund_until
    assert scheduled["expire_paid_membership"].run_after == membership.paid_until
    assert scheduled["send_renewal_reminder"].run_after == membership.paid_until - timedelta(days=3)
    assert scheduled["expire_paid_membership"].args_kwargs["kwargs"] == {
        "membership_id": membership.id, "paid_until": membership.paid_until.isoformat()}
