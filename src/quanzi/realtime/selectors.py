"""Reads for the real-time layer: what a newly connected socket subscribes to."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import connection

from quanzi.chat.models import Group
from quanzi.chat.selectors import group_ids_for_user
from quanzi.circles.models import Membership, MembershipStatus

from .audience import MODERATOR_ROLES


@dataclass
class Subscriptions:
    circles: dict[int, bool] = field(default_factory=dict)  # circle id → moderator or above
    groups: list[tuple[int, int]] = field(default_factory=list)  # (circle id, group id) seats


def subscriptions_for(user_id: int) -> Subscriptions:
    """The user's active circles and the group seats inside them."""
    circles = {
        circle_id: role in MODERATOR_ROLES
        for circle_id, role in Membership.objects.filter(
            user_id=user_id, status=MembershipStatus.ACTIVE
        ).values_list("circle_id", "role")
    }
    groups = [(c, g) for c, g in group_ids_for_user(user_id) if c in circles]
    return Subscriptions(circles=circles, groups=groups)


def circle_id_of_group(group_id: int) -> int | None:
    """The circle a group belongs to, or None. One primary-key lookup in plain SQL: it runs
    for every chat message sent over a socket, and the ORM's query building cost ~10x
    the query itself (measured with `make bench`)."""
    table = connection.ops.quote_name(Group._meta.db_table)
    column = connection.ops.quote_name(Group._meta.get_field("circle").column)
    pk = connection.ops.quote_name(Group._meta.pk.column)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE {pk} = %s", [group_id])  # noqa: S608 - quoted names
        row = cursor.fetchone()
    return row[0] if row else None
