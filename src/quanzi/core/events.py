"""Typed domain events: recorded in the transaction, published after commit.

Actions call :func:`emit`. The event row is written in the caller's transaction (so the
log is complete exactly when the change is), and listeners — real-time delivery now,
analytics later — are called only after the transaction commits (Zulip's
``send_event_on_commit``). Nothing here imports the listeners; they register
themselves with :func:`add_listener` from their ``AppConfig.ready``.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.utils import timezone

logger = logging.getLogger(__name__)


class EventType(StrEnum):
    CIRCLE_CREATED = "circle.created"
    CIRCLE_UPDATED = "circle.updated"
    MEMBER_JOINED = "member.joined"
    MEMBER_LEFT = "member.left"
    MEMBER_KICKED = "member.kicked"
    MEMBER_BANNED = "member.banned"
    MEMBER_UNBANNED = "member.unbanned"
    MEMBER_MUTED = "member.muted"
    MEMBER_UNMUTED = "member.unmuted"
    MEMBER_ROLE_CHANGED = "member.role_changed"
    OWNERSHIP_TRANSFERRED = "circle.ownership_transferred"
    JOIN_REQUESTED = "join_request.created"
    JOIN_REQUEST_APPROVED = "join_request.approved"
    JOIN_REQUEST_REJECTED = "join_request.rejected"
    INVITE_CREATED = "invite.created"
    INVITE_REVOKED = "invite.revoked"
    CHANNEL_FOLLOWED = "channel.followed"
    CHANNEL_UNFOLLOWED = "channel.unfollowed"
    GROUP_CREATED = "group.created"
    GROUP_UPDATED = "group.updated"
    GROUP_MEMBER_JOINED = "group.member_joined"
    GROUP_MEMBER_LEFT = "group.member_left"
    MESSAGE_NEW = "message.new"
    MESSAGE_EDITED = "message.edited"
    MESSAGE_DELETED = "message.deleted"
    MESSAGE_PINNED = "message.pinned"
    MESSAGE_UNPINNED = "message.unpinned"
    NOTICE_NEW = "notice.new"
    CREDENTIAL_REVOKED = "auth.revoked"
    PLAN_CREATED = "plan.created"
    PLAN_UPDATED = "plan.updated"
    PLAN_ARCHIVED = "plan.archived"
    ORDER_CREATED = "order.created"
    ORDER_PAID = "order.paid"
    ORDER_FAILED = "order.failed"
    ORDER_CANCELLED = "order.cancelled"
    ORDER_REFUNDED = "order.refunded"
    ORDER_SETTLED = "order.settled"
    MEMBERSHIP_RENEWAL_DUE = "membership.renewal_due"
    MEMBERSHIP_EXPIRED = "membership.expired"
    PAYOUT_REQUESTED = "payout.requested"
    PAYOUT_PAID = "payout.paid"
    PAYOUT_REJECTED = "payout.rejected"


@dataclass(frozen=True, slots=True)
class Event:
    """What listeners receive. ``payload`` is the client-facing body (not stored)."""

    type: EventType
    circle_id: int | None
    actor_id: int | None = None
    target_user_id: int | None = None
    group_id: int | None = None
    data: dict[str, Any] = field(default_factory=dict)
    payload: dict[str, Any] = field(default_factory=dict)
    occurred_at: datetime = field(default_factory=timezone.now)
    id: int | None = None

    def client_dict(self) -> dict[str, Any]:
        """The JSON object a client sees: ``type`` plus the ids it needs plus the payload."""
        body: dict[str, Any] = {"type": str(self.type), "circle_id": self.circle_id}
        if self.group_id is not None:
            body["group_id"] = self.group_id
        if self.actor_id is not None:
            body["actor_id"] = self.actor_id
        if self.target_user_id is not None:
            body["user_id"] = self.target_user_id
        body.update(self.payload)
        return body


Listener = Callable[[Event], None]
_listeners: list[Listener] = []


def add_listener(listener: Listener) -> None:
    if listener not in _listeners:
        _listeners.append(listener)


def remove_listener(listener: Listener) -> None:
    if listener in _listeners:
        _listeners.remove(listener)


@functools.lru_cache(maxsize=256)
def _zone(tz_name: str | None) -> tzinfo:
    try:
        return ZoneInfo(tz_name) if tz_name else UTC
    except Exception:  # an unknown zone name must never break an action
        return UTC


def _local_day(moment: datetime, tz_name: str | None) -> date:
    return moment.astimezone(_zone(tz_name)).date()


_INSERT_SQL = (
    "INSERT INTO {table} (type, circle_id, day, actor_id, target_user_id, group_id, data, created_at)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s){returning}"
)


@functools.cache
def _insert_sql(returning: bool) -> str:
    """The event row's INSERT. Plain SQL: emit runs in every action (in the send path for every
    chat message), and ``DomainEvent.objects.create`` cost ~5x the statement itself."""
    from quanzi.core.models import DomainEvent

    return _INSERT_SQL.format(
        table=connection.ops.quote_name(DomainEvent._meta.db_table), returning=" RETURNING id" if returning else ""
    )


def _store(type: str, circle_id: int | None, day: date, actor_id: int | None, target_user_id: int | None,
           group_id: int | None, data: dict[str, Any], now: datetime) -> int:
    """Insert a DomainEvent row, adapting values exactly as the ORM's insert would; its id."""
    ops, returning = connection.ops, connection.features.can_return_columns_from_insert
    with connection.cursor() as cursor:
        cursor.execute(
            _insert_sql(returning),
            [type, circle_id, ops.adapt_datefield_value(day), actor_id, target_user_id, group_id,
             ops.adapt_json_value(data, None), ops.adapt_datetimefield_value(now)],
        )
        return cursor.fetchone()[0] if returning else cursor.lastrowid


def emit(
    type: EventType,
    *,
    circle: Any | None,
    actor_id: int | None = None,
    target_user_id: int | None = None,
    group_id: int | None = None,
    data: dict[str, Any] | None = None,
    payload: dict[str, Any] | None = None,
    store: bool = True,
    circle_timezone: str | None = None,
) -> Event:
    """Record a domain event now and publish it to listeners after commit.

    ``store=False`` is for purely transient notifications that are already derivable
    from other rows (none of the management actions use it). ``circle_timezone`` spares
    a caller that passes the circle as an id (and knows its zone) the lookup of the zone.
    """
    now = timezone.now()
    circle_id = getattr(circle, "id", circle)
    event_id = None
    if store:
        tz_name = circle_timezone or getattr(circle, "timezone", None)
        if tz_name is None and circle_id is not None:
            # Callers that only have the id (chat actions) still get the circle's local day.
            from quanzi.circles.models import Circle

            tz_name = Circle.objects.filter(id=circle_id).values_list("timezone", flat=True).first()
        event_id = _store(str(type), circle_id, _local_day(now, tz_name), actor_id, target_user_id, group_id,
                          data or {}, now)
    event = Event(
        type=type,
        circle_id=circle_id,
        actor_id=actor_id,
        target_user_id=target_user_id,
        group_id=group_id,
        data=data or {},
        payload=payload or {},
        occurred_at=now,
        id=event_id,
    )
    transaction.on_commit(lambda: _publish(event), robust=True)
    return event


def _publish(event: Event) -> None:
    for listener in list(_listeners):
        try:
            listener(event)
        except Exception:  # one broken listener must not stop the others
            logger.exception("event listener %r failed for %s", listener, event.type)
