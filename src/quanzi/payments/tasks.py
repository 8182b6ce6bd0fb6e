"""Scheduled money work: settling revenue after the refund window, renewal reminders, expiry.

Each task takes ids (and the date it was scheduled for), loads and locks the rows, and
re-checks the state, so a late, repeated or superseded run (the member renewed meanwhile)
changes nothing. With the database task backend they are enqueued with ``run_after`` in
the payment's own transaction — the task row commits together with the payment.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.tasks import task
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)


def schedule(task_obj, run_after: datetime, **kwargs) -> None:
    """Enqueue ``task_obj`` to run at ``run_after``, if the task backend can defer work.

    The immediate backend (tests) cannot; there the tasks are called directly.
    """
    backend = task_obj.get_backend()
    if not backend.supports_defer:
        logger.debug("task backend cannot defer; %s not scheduled", task_obj.name)
        return
    task_obj.using(run_after=max(run_after, timezone.now())).enqueue(**kwargs)


def schedule_membership_tasks(membership, circle) -> None:
    """The reminder ``renewal_reminder_days`` before ``paid_until``, and the expiry at ``paid_until``."""
    until = membership.paid_until
    if until is None:
        return
    stamp = until.isoformat()
    if circle.renewal_reminder_days:
        schedule(send_renewal_reminder, until - timedelta(days=circle.renewal_reminder_days),
                 membership_id=membership.id, paid_until=stamp)
    schedule(expire_paid_membership, until, membership_id=membership.id, paid_until=stamp)


@task()
def settle_order_revenue(*, order_id: int) -> str:
    """After the refund window: move the circle's share of a paid order from pending to available."""
    from quanzi.core.events import EventType, emit
    from quanzi.ledger import services as ledger
    from quanzi.ledger.models import AccountKind

    from .models import Order, OrderStatus

    with transaction.atomic():
        order = Order.objects.select_for_update().filter(id=order_id).first()
        if order is None or order.status != OrderStatus.PAID or order.settled_at is not None:
            return "skipped"
        now = timezone.now()
        if order.refund_until is None or now < order.refund_until:
            return "not_due"
        pending = ledger.get_account(AccountKind.CIRCLE_PENDING, currency=order.currency, circle=order.circle)
        share = sum(order.payment_txn.entries.filter(account=pending).values_list("amount", flat=True))
        if share > 0:
            available = ledger.get_account(AccountKind.CIRCLE_AVAILABLE, currency=order.currency, circle=order.circle)
            ledger.post_transaction(
                kind="order.settle", legs=[(pending, -share), (available, share)],
                idempotency_key=f"order-settle-{order.id}", memo=f"settle {order.public_id}",
                metadata={"order": order.public_id},
            )
        order.settled_at = now
        order.save(update_fields=["settled_at"])
        emit(EventType.ORDER_SETTLED, circle=order.circle_id, target_user_id=order.user_id,
             data={"order": order.public_id, "amount": share})
    return "settled"


def _current_paid_membership(membership_id: int, paid_until: str):
    """The membership, locked, if it is still active and still paid through ``paid_until``."""
    from quanzi.circles.models import Membership, MembershipStatus

    expected = parse_datetime(paid_until) if isinstance(paid_until, str) else None
    membership = (
        Membership.objects.select_for_update().select_related("circle", "user").filter(id=membership_id).first()
    )
    if (
        membership is None
        or expected is None
        or membership.status != MembershipStatus.ACTIVE
        or membership.paid_until != expected
    ):
        return None
    return membership


@task()
def send_renewal_reminder(*, membership_id: int, paid_until: str) -> str:
    """A notice that the paid membership ends soon (skipped if it was renewed or ended)."""
    from quanzi.chat.actions import notify_user
    from quanzi.chat.models import NoticeKind
    from quanzi.core.events import EventType, emit
    from quanzi.core.models import DomainEvent

    with transaction.atomic():
        membership = _current_paid_membership(membership_id, paid_until)
        if membership is None or membership.paid_until <= timezone.now():
            return "skipped"
        already = DomainEvent.objects.filter(
            type=EventType.MEMBERSHIP_RENEWAL_DUE, circle_id=membership.circle_id,
            target_user_id=membership.user_id, data__paid_until=paid_until,
        ).exists()
        if already:
            return "skipped"
        circle = membership.circle
        local = timezone.localtime(membership.paid_until, timezone=_zone(circle.timezone))
        notify_user(
            user_id=membership.user_id, circle_id=circle.id, kind=NoticeKind.MODERATION,
            text=_("Your membership of %(circle)s ends on %(date)s. Renew it to stay in.")
            % {"circle": circle.name, "date": local.strftime("%Y-%m-%d %H:%M")},
        )
        emit(EventType.MEMBERSHIP_RENEWAL_DUE, circle=circle, target_user_id=membership.user_id,
             data={"paid_until": paid_until}, payload={"paid_until": paid_until})
    return "reminded"


@task()
def expire_paid_membership(*, membership_id: int, paid_until: str) -> str:
    """The paid-through date passed without renewal: read-only (nothing to change — the posting rule
    sees the date) or removal, as the circle chose. Either way the member is told once."""
    from quanzi.chat.actions import notify_user
    from quanzi.chat.models import NoticeKind
    from quanzi.circles import actions as circle_actions
    from quanzi.circles.models import ExpiryAction
    from quanzi.core.events import EventType, emit
    from quanzi.core.models import DomainEvent

    with transaction.atomic():
        membership = _current_paid_membership(membership_id, paid_until)
        if membership is None or membership.paid_until > timezone.now():
            return "skipped"
        circle = membership.circle
        already = DomainEvent.objects.filter(
            type=EventType.MEMBERSHIP_EXPIRED, circle_id=circle.id, target_user_id=membership.user_id,
            data__paid_until=paid_until,
        ).exists()
        remove = circle.expiry_action == ExpiryAction.REMOVE
        if already and not remove:
            return "skipped"
        if remove:
            circle_actions.end_paid_membership(circle=circle, user=membership.user, reason="expired")
            text = _("Your paid membership of %(circle)s has ended. Pay again to rejoin.")
        else:
            text = _("Your paid membership of %(circle)s has ended: you can read but not post until you renew.")
        if not already:
            notify_user(user_id=membership.user_id, circle_id=circle.id, kind=NoticeKind.MODERATION,
                        text=text % {"circle": circle.name})
            emit(EventType.MEMBERSHIP_EXPIRED, circle=circle, target_user_id=membership.user_id,
                 data={"paid_until": paid_until, "action": circle.expiry_action},
                 payload={"paid_until": paid_until, "action": circle.expiry_action})
    return "removed" if remove else "read_only"


def _zone(name: str):
    from zoneinfo import ZoneInfo

    try:
        return ZoneInfo(name)
    except (KeyError, ValueError):
        return timezone.get_default_timezone()
