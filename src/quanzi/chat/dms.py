"""Direct messages between two members of a circle, and blocking (docs/dms.md).

A DM conversation is an ordinary chat :class:`Group` of kind ``dm`` with exactly two
seats, so sending, history, read markers, unread counts and real-time delivery are the
chat machinery's. What is DM-specific lives here: the get-or-create of the one group per
(circle, pair of people), the per-message check (``circles.rules.check_start_dm``: the
circle's ``dm_policy``, both people active members, no block either way), the
``direct_message`` notice, blocks, and the reads for the DM list and moderators' review
of a reported DM message.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from django.db import IntegrityError, connection, transaction
from django.db.models import Max, Q, QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from quanzi.circles import rules
from quanzi.circles.models import Circle, Membership
from quanzi.core.errors import Forbidden, InvalidInput, NotFound
from quanzi.core.events import EventType, emit
from quanzi.core.ids import as_db_id
from quanzi.moderation import rules as moderation_rules

from .models import Block, DmPair, Group, GroupKind, GroupMember, Message, ModerationState, Notice, NoticeKind

if TYPE_CHECKING:
    from quanzi.accounts.models import User


def _ordered(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a < b else (b, a)


def _target_id(user_id) -> int:
    """A user id from a request; anything that is not one reads like a non-member."""
    uid = as_db_id(user_id) if not isinstance(user_id, bool) else None
    if uid is None:
        raise Forbidden(_("This person is not a member of this circle."), code="dm_not_member")
    return uid


# --- blocks -------------------------------------------------------------------------------


def blocks_between(user_id: int, other_id: int) -> tuple[bool, bool]:
    """(``user_id`` blocked ``other_id``, ``other_id`` blocked ``user_id``) in one query."""
    blockers = set(
        Block.objects.filter(
            Q(blocker_id=user_id, blocked_id=other_id) | Q(blocker_id=other_id, blocked_id=user_id)
        ).values_list("blocker_id", flat=True)
    )
    return user_id in blockers, other_id in blockers


def do_block(*, actor, user_id) -> Block:
    """Block someone everywhere: no DMs either way until unblocked. Blocking twice is a no-op."""
    from quanzi.accounts.models import User

    uid = as_db_id(user_id) if not isinstance(user_id, bool) else None
    if uid is not None and uid == actor.id:
        raise InvalidInput(_("You cannot block yourself."), code="block_self")
    if uid is None or not User.objects.filter(id=uid, is_active=True).exists():
        raise NotFound(_("No such user."), code="user_not_found")
    block, _created = Block.objects.get_or_create(blocker=actor, blocked_id=uid)
    return block


def do_unblock(*, actor, user_id) -> bool:
    """Lift a block; True if there was one (unblocking someone not blocked changes nothing)."""
    uid = as_db_id(user_id) if not isinstance(user_id, bool) else None
    if uid is None:
        raise NotFound(_("No such user."), code="user_not_found")
    deleted, _rows = Block.objects.filter(blocker=actor, blocked_id=uid).delete()
    return bool(deleted)


def blocked_users(user) -> QuerySet[Block]:
    """Whom ``user`` blocked, newest first (with the blocked user loaded)."""
    return Block.objects.filter(blocker=user).select_related("blocked").order_by("-id")


# --- conversations ------------------------------------------------------------------------


def _check_pair(circle: Circle, actor_membership: Membership | None, target: Membership | None, actor_id: int,
                target_id: int) -> None:
    mine, theirs = blocks_between(actor_id, target_id)
    rules.check_start_dm(circle.dm_policy, actor_membership, target, actor_blocked_target=mine,
                         target_blocked_actor=theirs)


def _find_pair(circle_id: int, low: int, high: int) -> DmPair | None:
    pairs = DmPair.objects.select_related("group")
    return pairs.filter(circle_id=circle_id, low_user_id=low, high_user_id=high).first()


@transaction.atomic
def do_start_dm(*, actor, circle: Circle, user_id) -> Group:
    """The DM group of ``actor`` and ``user_id`` in ``circle``, created on first use.

    Checked like a message (the rule may have changed since the conversation began).
    Both memberships are locked in user-id order, so two people starting the same
    conversation at once queue up; the unique constraint on the pair is the backstop
    (the loser's insert fails inside a savepoint and it returns the winner's group).
    """
    if actor is None or not getattr(actor, "is_authenticated", False):
        raise NotFound(_("No such circle."), code="circle_not_found")
    uid = _target_id(user_id)
    circle = Circle.objects.get(id=circle.id)  # the current policy
    rows = {
        m.user_id: m
        for m in Membership.objects.select_for_update()
        .filter(circle_id=circle.id, user_id__in={actor.id, uid})
        .order_by("user_id")
    }
    actor_membership = rows.get(actor.id)
    _check_pair(circle, actor_membership, rows.get(uid) if uid != actor.id else actor_membership, actor.id, uid)
    low, high = _ordered(actor.id, uid)
    pair = _find_pair(circle.id, low, high)
    if pair is None:  # a new conversation: newcomers may only write to moderators (quanzi.moderation trust levels)
        moderation_rules.check_can_start_dm(actor_membership, target=rows.get(uid))
    if pair is not None:
        _ensure_seats(pair)
        return pair.group
    try:
        with transaction.atomic():
            group = Group.objects.create(circle=circle, name="dm", kind=GroupKind.DM, created_by=actor)
            GroupMember.objects.bulk_create([GroupMember(group=group, user_id=uid) for uid in (low, high)])
            DmPair.objects.create(circle=circle, low_user_id=low, high_user_id=high, group=group)
    except IntegrityError:
        pair = _find_pair(circle.id, low, high)
        if pair is None:
            raise
        return pair.group
    emit(
        EventType.GROUP_CREATED,
        circle=circle,
        actor_id=actor.id,
        target_user_id=uid,
        group_id=group.id,
        payload={"group": {"id": group.id, "name": group.name, "kind": group.kind}},
    )
    return group


def _ensure_seats(pair: DmPair) -> None:
    """Both people sit in their DM group (seats survive leaving a circle; this repairs older data)."""
    seated = set(GroupMember.objects.filter(group_id=pair.group_id).values_list("user_id", flat=True))
    for uid in (pair.low_user_id, pair.high_user_id):
        if uid not in seated:
            GroupMember.objects.get_or_create(group_id=pair.group_id, user_id=uid)
            emit(EventType.GROUP_MEMBER_JOINED, circle=pair.circle_id, actor_id=uid, target_user_id=uid,
                 group_id=pair.group_id, payload={"group": {"id": pair.group_id, "name": "dm", "kind": "dm"}})


# check_dm_send runs for every DM message, inside do_send_message (the hot write path): one
# hand-written statement instead of three querysets, as do_send_message does (building a
# queryset cost more than running it: a DM send took ~2.5x a group send with the ORM here).
_DM_SQL = {
    # The circle's policy, the other person, their membership (if any) and blocks either way.
    "check": "SELECT c.dm_policy, x.peer, m.id, m.role, m.status,"
    " EXISTS (SELECT 1 FROM {block} b WHERE b.blocker_id = %s AND b.blocked_id = x.peer),"
    " EXISTS (SELECT 1 FROM {block} b WHERE b.blocker_id = x.peer AND b.blocked_id = %s)"
    " FROM (SELECT circle_id, CASE WHEN low_user_id = %s THEN high_user_id ELSE low_user_id END AS peer"
    " FROM {pair} WHERE group_id = %s) x JOIN {circle} c ON c.id = x.circle_id"
    " LEFT JOIN {membership} m ON m.circle_id = x.circle_id AND m.user_id = x.peer",
    "pending_notice": "SELECT 1 FROM {notice} n JOIN {message} g ON g.id = n.message_id WHERE n.user_id = %s"
    " AND n.read_at IS NULL AND n.kind = %s AND g.group_id = %s LIMIT 1",
}


@functools.cache
def _dm_sql() -> dict[str, str]:
    q = connection.ops.quote_name
    names = {
        "block": q(Block._meta.db_table),
        "pair": q(DmPair._meta.db_table),
        "circle": q(Circle._meta.db_table),
        "membership": q(Membership._meta.db_table),
        "notice": q(Notice._meta.db_table),
        "message": q(Message._meta.db_table),
    }
    return {key: template.format(**names) for key, template in _DM_SQL.items()}


def check_dm_send(*, group_id: int, sender_membership: Membership) -> int:
    """Called by ``do_send_message`` (and edits) for a DM group: the rule, then the peer's id.

    The sender's membership is already locked and active; this reads the circle's policy,
    the peer's membership and blocks, so nothing is stored when DMs are not allowed.
    """
    sender_id = sender_membership.user_id
    with connection.cursor() as cursor:
        cursor.execute(_dm_sql()["check"], [sender_id, sender_id, sender_id, group_id])
        row = cursor.fetchone()
    if row is None:
        raise NotFound(_("No such group."), code="group_not_found")
    policy, peer_id, peer_row_id, role, status, mine, theirs = row
    peer = None
    if peer_row_id is not None:  # only what the rule reads
        peer = Membership(id=peer_row_id, circle_id=sender_membership.circle_id, user_id=peer_id, role=role,
                          status=status)
    rules.check_start_dm(policy, sender_membership, peer, actor_blocked_target=bool(mine),
                         target_blocked_actor=bool(theirs))
    return peer_id


def notify_dm(*, message: Message, sender, peer_id: int, circle_id: int) -> None:
    """A ``direct_message`` notice for the peer, one unread notice per conversation at a time."""
    with connection.cursor() as cursor:
        cursor.execute(_dm_sql()["pending_notice"], [peer_id, NoticeKind.DIRECT_MESSAGE.value, message.group_id])
        if cursor.fetchone() is not None:
            return
    from .actions import notify_user

    notify_user(user_id=peer_id, circle_id=circle_id, kind=NoticeKind.DIRECT_MESSAGE,
                text=f"{sender.name}: {message.body[:140]}", message=message)


# --- reads --------------------------------------------------------------------------------


@dataclass
class Conversation:
    group_id: int
    peer: User
    unread: int
    last_message: Message | None
    last_at: datetime


def dm_conversations(user, circle_id: int, *, limit: int = 200) -> list[Conversation]:
    """The user's DM conversations in a circle, most recently active first.

    Only conversations the user sits in (two queries for the pairs and the last messages,
    one for unread counts).
    """
    from .selectors import unread_counts

    pairs = list(
        DmPair.objects.filter(Q(low_user=user) | Q(high_user=user), circle_id=circle_id,
                              group__members__user=user)
        .select_related("low_user", "high_user")
        .annotate(last_id=Max("group__messages__id", filter=Q(group__messages__deleted_at__isnull=True) & (
            Q(group__messages__moderation_state=ModerationState.VISIBLE) | Q(group__messages__author=user))))
        .order_by()
    )
    last = Message.objects.in_bulk([p.last_id for p in pairs if p.last_id])
    unread = unread_counts(user, circle_id=circle_id)
    out = [
        Conversation(
            group_id=p.group_id,
            peer=p.high_user if p.low_user_id == user.id else p.low_user,
            unread=unread.get(p.group_id, 0),
            last_message=last.get(p.last_id),
            last_at=last[p.last_id].created_at if p.last_id in last else p.created_at,
        )
        for p in pairs
    ]
    out.sort(key=lambda c: (c.last_at, c.group_id), reverse=True)
    return out[:limit]


def last_message_seen_by(group_id: int, user) -> Message | None:
    """The newest message of a conversation that ``user`` may see (held ones only to their author)."""
    shown = Q(moderation_state=ModerationState.VISIBLE) | Q(author=user)
    return Message.objects.filter(shown, group_id=group_id, deleted_at__isnull=True).order_by("-id").first()


def dm_with(user, circle_id: int, peer_id) -> Group | None:
    """The existing DM group of ``user`` and ``peer_id`` in the circle, if the user sits in it."""
    uid = as_db_id(peer_id) if not isinstance(peer_id, bool) else None
    if uid is None or uid == user.id:
        return None
    low, high = _ordered(user.id, uid)
    pair = _find_pair(circle_id, low, high)
    if pair is None or not GroupMember.objects.filter(group_id=pair.group_id, user=user).exists():
        return None
    return pair.group


def dm_peer(group: Group, user_id: int):
    """The other person of a DM group (None for other kinds of group)."""
    pair = DmPair.objects.select_related("low_user", "high_user").filter(group_id=group.id).first()
    if pair is None:
        return None
    return pair.high_user if pair.low_user_id == user_id else pair.low_user


@dataclass
class DmRoom:
    peer: User | None
    can_send: bool
    reason: str
    reason_code: str
    i_blocked: bool

    @property
    def title(self) -> str:
        return self.peer.name if self.peer else _("Direct messages")

    @property
    def placeholder(self) -> str:
        return _("Message %(name)s") % {"name": self.title}


def dm_room(group: Group, membership: Membership) -> DmRoom:
    """What the conversation page shows: the other person, and whether (or why not) one can send."""
    peer = dm_peer(group, membership.user_id)
    i_blocked = bool(peer) and Block.objects.filter(blocker_id=membership.user_id, blocked=peer).exists()
    try:
        check_dm_send(group_id=group.id, sender_membership=membership)
        rules.check_can_post(membership, group_kind=group.kind, group_mute_all=group.mute_all)
    except (Forbidden, NotFound) as exc:
        return DmRoom(peer=peer, can_send=False, reason=exc.message, reason_code=exc.code, i_blocked=i_blocked)
    return DmRoom(peer=peer, can_send=True, reason="", reason_code="", i_blocked=i_blocked)


def dm_message_for_review(message_id) -> Message | None:
    """A DM message by id, for moderators reviewing a report (the moderation app checks the report).

    Moderators cannot open DM groups (they have no seat); a reported DM message is shown
    to them through this, with its group, circle, author and the pair loaded.
    """
    mid = as_db_id(message_id) if not isinstance(message_id, bool) else None
    if mid is None:
        return None
    return (
        Message.objects.select_related("author", "group__circle", "group__dm_pair__low_user",
                                       "group__dm_pair__high_user")
        .filter(id=mid, group__kind=GroupKind.DM)
        .first()
    )


def is_dm_group_id(group_id: int) -> bool:
    return Group.objects.filter(id=group_id, kind=GroupKind.DM).exists()


def dm_unread_total(user, circle_id: int) -> int:
    """Unread direct messages of ``user`` in the circle, over all their conversations."""
    dm_groups = set(
        GroupMember.objects.filter(user=user, group__circle_id=circle_id, group__kind=GroupKind.DM).values_list(
            "group_id", flat=True
        )
    )
    if not dm_groups:
        return 0
    from .selectors import unread_counts

    return sum(n for gid, n in unread_counts(user, circle_id=circle_id).items() if gid in dm_groups)


# Strings of this feature written outside the chat app (the rule in circles.rules, the circle
# setting in circles and web): listed here so that the chat app's own catalog translates them.
_STRINGS_ELSEWHERE = (
    gettext_noop("You cannot send a direct message to yourself."),
    gettext_noop("This person is not a member of this circle."),
    gettext_noop("Direct messages are turned off in this circle."),
    gettext_noop("In this circle, members may only send direct messages to admins and moderators."),
    gettext_noop("You blocked this person. Unblock them to send messages."),
    gettext_noop("You can't message this person."),
    gettext_noop("Direct messages must be members, admins or off."),
    gettext_noop("Direct messages"),
    gettext_noop("direct messages"),
    gettext_noop("Who may send direct messages to whom in this circle."),
    gettext_noop("Members may message each other"),
    gettext_noop("Members may message admins and moderators only"),
    gettext_noop("Direct messages are off"),
)
