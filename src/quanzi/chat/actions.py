"""The only writers of groups, messages and notices.

Each action is atomic, checks the rule from ``circles.rules`` against a freshly
loaded (and, on PostgreSQL, locked) membership, writes, records audit rows for
management actions, and emits a domain event that is published after commit.
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from quanzi.circles import rules
from quanzi.circles.models import Circle, Membership, MembershipStatus
from quanzi.core import audit
from quanzi.core.content import content_removed, content_saved
from quanzi.core.errors import Forbidden, InvalidInput, NotFound, RateLimited
from quanzi.core.events import EventType, emit
from quanzi.core.ids import as_db_id
from quanzi.moderation import gate as moderation_gate

from . import dms, markdown
from .models import Group, GroupKind, GroupMember, Message, MessageKind, ModerationState, Notice, NoticeKind
from .selectors import message_to_dict, notice_to_dict


def _locked_membership(circle_id: int, user) -> Membership | None:
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return Membership.objects.select_for_update().filter(circle_id=circle_id, user=user).first()


def _clean_body(body: str) -> str:
    if not isinstance(body, str):
        raise InvalidInput(_("The message must be text."), code="invalid_body")
    body = body.strip()
    if not body:
        raise InvalidInput(_("The message is empty."), code="empty_message")
    limit = settings.QUANZI_MESSAGE_MAX_LENGTH
    if len(body) > limit:
        raise InvalidInput(
            _("The message is %(n)d characters long; the limit is %(limit)d.") % {"n": len(body), "limit": limit},
            code="message_too_long",
        )
    return body


def _clean_name(name: str, field: str = "name", limit: int = 80) -> str:
    name = (name or "").strip()
    if not name:
        raise InvalidInput(_("The %(field)s cannot be empty.") % {"field": field}, code="invalid_" + field)
    if len(name) > limit:
        raise InvalidInput(
            _("The %(field)s can be at most %(limit)d characters.") % {"field": field, "limit": limit},
            code="invalid_" + field,
        )
    return name


# --- groups -------------------------------------------------------------------------------


def create_group_rows(*, circle: Circle, name: str, kind: str, creator, topic: str = "") -> Group:
    """Insert a group (used by circle creation too). No permission check: callers check."""
    return Group.objects.create(circle=circle, name=name, kind=kind, topic=topic, created_by=creator)


@transaction.atomic
def do_create_group(*, actor, circle: Circle, name: str, topic: str = "", kind: str = GroupKind.GROUP) -> Group:
    membership = _locked_membership(circle.id, actor)
    rules.check_manage_circle(membership)
    name = _clean_name(name)
    if kind not in (GroupKind.GROUP, GroupKind.CHANNEL):
        raise InvalidInput(_("Unknown group kind."), code="invalid_kind")
    circle = Circle.objects.select_for_update().get(id=circle.id)
    if kind == GroupKind.CHANNEL and circle.channel_group_id:
        raise InvalidInput(_("This circle already has an announcement channel."), code="channel_exists")
    group = create_group_rows(circle=circle, name=name, kind=kind, creator=actor, topic=(topic or "")[:300])
    GroupMember.objects.create(group=group, user=actor)
    if kind == GroupKind.CHANNEL:
        circle.channel_group = group
        circle.save(update_fields=["channel_group"])
        # Every active member can read the channel; following only controls notifications.
        GroupMember.objects.bulk_create(
            [
                GroupMember(group=group, user_id=uid)
                for uid in circle.memberships.filter(status=MembershipStatus.ACTIVE)
                .exclude(user=actor)
                .values_list("user_id", flat=True)
            ],
            ignore_conflicts=True,
        )
    audit.record(circle=circle, actor=actor, action="group.create", target_repr=name, data={"group_id": group.id})
    emit(
        EventType.GROUP_CREATED,
        circle=circle,
        actor_id=actor.id,
        group_id=group.id,
        payload={"group": {"id": group.id, "name": group.name, "kind": group.kind}},
    )
    return group


@transaction.atomic
def do_update_group(
    *,
    actor,
    group: Group,
    name: str | None = None,
    topic: str | None = None,
    mute_all: bool | None = None,
    slow_mode_seconds: int | None = None,
    reason: str = "",
) -> Group:
    group = Group.objects.select_for_update().select_related("circle").get(id=group.id)
    membership = _locked_membership(group.circle_id, actor)
    if group.kind == GroupKind.DM:  # nobody manages a direct conversation (chat DMs)
        raise NotFound(_("No such group."), code="group_not_found")
    changes: dict = {}
    if name is not None or topic is not None:
        rules.check_manage_circle(membership)
        if name is not None:
            changes["name"] = _clean_name(name)
        if topic is not None:
            changes["topic"] = topic.strip()[:300]
    if mute_all is not None or slow_mode_seconds is not None:
        rules.check_moderate_group(membership)
        if mute_all is not None:
            changes["mute_all"] = bool(mute_all)
        if slow_mode_seconds is not None:
            if not isinstance(slow_mode_seconds, int) or not 0 <= slow_mode_seconds <= 86400:
                raise InvalidInput(_("Slow mode must be between 0 and 86400 seconds."), code="invalid_slow_mode")
            changes["slow_mode_seconds"] = slow_mode_seconds
    if membership is None or not rules.is_active(membership):
        raise NotFound(_("No such group."), code="group_not_found")
    changes = {k: v for k, v in changes.items() if getattr(group, k) != v}
    if not changes:
        return group
    for key, value in changes.items():
        setattr(group, key, value)
    group.save(update_fields=list(changes))
    audit.record(
        circle=group.circle,
        actor=actor,
        action="group.update",
        target_repr=group.name,
        reason=reason,
        data={"group_id": group.id, "changes": changes},
    )
    emit(
        EventType.GROUP_UPDATED,
        circle=group.circle,
        actor_id=actor.id,
        group_id=group.id,
        data={"changes": changes},
        payload={"changes": changes},
    )
    return group


@transaction.atomic
def do_join_group(*, user, group: Group) -> GroupMember:
    membership = _locked_membership(group.circle_id, user)
    if not rules.is_active(membership):
        raise NotFound(_("No such group."), code="group_not_found")
    if group.archived_at is not None:
        raise InvalidInput(_("This group is archived."), code="group_archived")
    if group.kind == GroupKind.DM:  # two seats, fixed at creation (chat DMs)
        raise NotFound(_("No such group."), code="group_not_found")
    member, created = GroupMember.objects.get_or_create(group=group, user=user)
    if created:
        emit(EventType.GROUP_MEMBER_JOINED, circle=group.circle_id, actor_id=user.id, target_user_id=user.id,
             group_id=group.id, payload={"group": {"id": group.id, "name": group.name, "kind": group.kind}})
    return member


@transaction.atomic
def do_leave_group(*, user, group: Group) -> None:
    membership = _locked_membership(group.circle_id, user)
    if not rules.is_active(membership):
        raise NotFound(_("No such group."), code="group_not_found")
    if group.kind == GroupKind.MAIN:
        raise InvalidInput(_("You cannot leave the main group; leave the circle instead."), code="cannot_leave_main")
    if group.kind == GroupKind.DM:
        raise InvalidInput(_("A direct conversation cannot be left; block the person instead."), code="cannot_leave_dm")
    deleted, _rows = GroupMember.objects.filter(group=group, user=user).delete()
    if deleted:
        emit(EventType.GROUP_MEMBER_LEFT, circle=group.circle_id, actor_id=user.id, target_user_id=user.id,
             group_id=group.id)


# --- messages -----------------------------------------------------------------------------
#
# do_send_message is the hottest write path (every chat message; `make bench` is bound by
# it at 500 members), so it talks to the database with a few hand-written statements
# instead of querysets: building a queryset cost 300-450 us per query on SQLite against
# 5-15 us for running the statement itself, and ORM inserts ~200 us against ~40 us
# (measured; see benchmarks/README.md). Table names come from the models; values are
# adapted with the same backend functions the ORM uses, and rows read back are converted
# the way the ORM converts them (``_from_db_datetime``).


_MEMBERSHIP_COLUMNS = ("id", "circle_id", "user_id", "role", "status", "muted_until", "paid_until")  # as below

# {table} names are filled in from the models; {lock_*} are the row locks on PostgreSQL.
_SEND_SQL = {
    # The membership row is locked first, as in every circle action. It is reached through the
    # group, so the caller's group needs nothing but its id.
    "membership": "SELECT m.id, m.circle_id, m.user_id, m.role, m.status, m.muted_until, m.paid_until FROM {group} g"
    " JOIN {membership} m ON m.circle_id = g.circle_id WHERE g.id = %s AND m.user_id = %s{lock_m}",
    "client_id": "SELECT id FROM {message} WHERE group_id = %s AND author_id = %s AND client_id = %s"
    " ORDER BY id LIMIT 1",
    # Read once the membership lock is held, so mute_all, slow mode and archived are current;
    # the seat row is locked (slow mode). No seat: no row, and "group" tells why the send fails.
    "group_and_seat": "SELECT g.circle_id, g.kind, g.mute_all, g.slow_mode_seconds, g.archived_at, c.timezone,"
    " s.id, s.last_posted_at FROM {group} g"
    " JOIN {circle} c ON c.id = g.circle_id JOIN {seat} s ON s.group_id = g.id AND s.user_id = %s"
    " WHERE g.id = %s{lock_s}",
    "group": "SELECT g.circle_id, g.kind, g.mute_all, g.slow_mode_seconds, g.archived_at, c.timezone,"
    " NULL, NULL FROM {group} g JOIN {circle} c ON c.id = g.circle_id WHERE g.id = %s",
    # DO NOTHING: a retry with the same client_id that raced past the check inserts no row
    # (and, unlike catching the IntegrityError, needs no savepoint around the insert).
    "insert_message": "INSERT INTO {message} (group_id, author_id, kind, body, body_html, reply_to_id,"
    " mentions_all, client_id, created_at, moderation_state) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
    " ON CONFLICT DO NOTHING{returning}",
    "update_seat": "UPDATE {seat} SET last_posted_at = %s, last_read_message_id = %s WHERE id = %s",
}


@functools.cache
def _send_sql(lock: bool) -> dict[str, str]:
    """The send path's statements for this database; ``lock`` adds the row locks (PostgreSQL)."""
    q = connection.ops.quote_name
    names = {
        "membership": q(Membership._meta.db_table),
        "group": q(Group._meta.db_table),
        "circle": q(Circle._meta.db_table),
        "seat": q(GroupMember._meta.db_table),
        "message": q(Message._meta.db_table),
        "lock_m": " FOR UPDATE OF m" if lock else "",
        "lock_s": " FOR UPDATE OF s" if lock else "",
        "returning": " RETURNING id" if connection.features.can_return_columns_from_insert else "",
    }
    return {key: template.format(**names) for key, template in _SEND_SQL.items()}


def _from_db_datetime(value: datetime | None) -> datetime | None:
    """A datetime read with a plain cursor, as the ORM returns it (SQLite hands back naive UTC)."""
    if value is not None and settings.USE_TZ and timezone.is_naive(value):
        return timezone.make_aware(value, connection.timezone)
    return value


def _membership_from_row(row: tuple) -> Membership:
    """The sender's membership with the columns the rules read; any other field loads on access."""
    values = dict(zip(_MEMBERSHIP_COLUMNS, row, strict=True))
    values["muted_until"] = _from_db_datetime(values["muted_until"])
    values["paid_until"] = _from_db_datetime(values["paid_until"])
    fields = [f.attname for f in Membership._meta.concrete_fields if f.attname in values]
    return Membership.from_db(connection.alias, fields, [values[name] for name in fields])


def _fetch_one(sql: str, params: list) -> tuple | None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def _resolve_mentions(group_id: int, names: set[str]) -> dict[str, int]:
    if not names:
        return {}
    rows = GroupMember.objects.filter(group_id=group_id, user__username__in=list(names)[:50]).values_list(
        "user__username", "user_id"
    )
    return dict(rows)


def _notify(users: list[int], *, circle_id: int, kind: str, text: str, message: Message | None = None) -> None:
    notices = Notice.objects.bulk_create(
        [Notice(user_id=uid, circle_id=circle_id, kind=kind, text=text[:1000], message=message) for uid in users]
    )
    for notice in notices:
        emit(
            EventType.NOTICE_NEW,
            circle=circle_id,
            target_user_id=notice.user_id,
            store=False,
            payload={"notice": notice_to_dict(notice)},
        )


@transaction.atomic
def do_send_message(
    *, sender, group: Group, body: str, reply_to_id: int | None = None, client_id: str = ""
) -> Message:
    """Persist a member's message, then (after commit) deliver it.

    A retry with the same ``client_id`` returns the first message instead of a copy.
    Only ``group.id`` is used: everything else is read here, under the membership lock.
    """
    body = _clean_body(body)
    client_id = (client_id or "")[:64]
    if sender is None or not getattr(sender, "is_authenticated", False):
        raise NotFound(_("No such group."), code="group_not_found")
    sql = _send_sql(connection.features.has_select_for_update_of)
    row = _fetch_one(sql["membership"], [group.id, sender.id])
    if row is None:
        raise NotFound(_("No such group."), code="group_not_found")
    membership = _membership_from_row(row)
    if not rules.is_active(membership):
        raise NotFound(_("No such group."), code="group_not_found")
    if client_id:
        found = _fetch_one(sql["client_id"], [group.id, sender.id, client_id])
        if found is not None:
            return Message.objects.get(id=found[0])
    row = _fetch_one(sql["group_and_seat"], [sender.id, group.id]) or _fetch_one(sql["group"], [group.id])
    if row is None:  # deleted since the membership was read
        raise NotFound(_("No such group."), code="group_not_found")
    circle_id, kind, mute_all, slow_mode_seconds, archived_at, circle_tz, seat_id, last_posted_at = row
    if seat_id is None and kind == GroupKind.DM:  # someone else's conversation: as if it did not exist
        raise NotFound(_("No such group."), code="group_not_found")
    if archived_at is not None:
        raise InvalidInput(_("This group is archived."), code="group_archived")
    now = timezone.now()
    rules.check_can_post(membership, group_kind=kind, group_mute_all=bool(mute_all), now=now)
    if seat_id is None:
        raise Forbidden(_("Join this group before posting in it."), code="not_group_member")
    dm_peer_id = dms.check_dm_send(group_id=group.id, sender_membership=membership) if kind == GroupKind.DM else None
    last_posted_at = _from_db_datetime(last_posted_at)
    if slow_mode_seconds and rules.slow_mode_applies(membership) and last_posted_at:
        wait = last_posted_at + timedelta(seconds=slow_mode_seconds) - now
        if wait.total_seconds() > 0:
            raise RateLimited(
                _("Slow mode is on: you can post again in %(s)d seconds.") % {"s": int(wait.total_seconds()) + 1},
                retry_after=wait.total_seconds(),
                code="slow_mode",
            )
    names, mention_all = markdown.find_mentions(body)
    if mention_all:
        rules.check_mention_all(membership)
    reply_to = None
    if reply_to_id is not None:
        reply_to = (
            Message.objects.filter(id=reply_to_id, group_id=group.id, deleted_at__isnull=True,
                                   moderation_state=ModerationState.VISIBLE).first()
            if as_db_id(reply_to_id)
            else None
        )
        if reply_to is None:
            raise NotFound(_("The message you reply to does not exist."), code="reply_not_found")
    resolved = _resolve_mentions(group.id, names)
    # Anti-ad gate (quanzi.moderation): held or removed messages are stored but reach no one else.
    screening = moderation_gate.screen(actor=sender, circle=circle_id, kind="message", text=body, group=group.id,
                                       mentions=len(resolved), membership=membership, now=now)
    message = Message(
        group_id=group.id,
        moderation_state=screening.state,
        author=sender,
        kind=MessageKind.TEXT,
        body=body,
        body_html=markdown.render(body, mentions=resolved, mention_all=mention_all),
        reply_to=reply_to,
        mentions_all=mention_all,
        client_id=client_id,
        created_at=now,
    )
    ops = connection.ops
    with connection.cursor() as cursor:
        cursor.execute(
            sql["insert_message"],
            [group.id, sender.id, message.kind, body, message.body_html, message.reply_to_id, mention_all,
             client_id, ops.adapt_datetimefield_value(now), screening.state],
        )
        if connection.features.can_return_columns_from_insert:
            inserted = cursor.fetchone()
            message.id = inserted[0] if inserted else None
        else:
            message.id = cursor.lastrowid if cursor.rowcount else None
    if message.id is None:  # the same client_id was inserted concurrently: that message wins
        return Message.objects.get(group_id=group.id, author=sender, client_id=client_id)
    message._state.adding = False
    message._state.db = connection.alias
    mentioned = [uid for uid in resolved.values() if uid != sender.id]
    if mentioned:
        message.mentioned_users.set(mentioned)
    with connection.cursor() as cursor:
        cursor.execute(sql["update_seat"], [ops.adapt_datetimefield_value(now), message.id, seat_id])
    moderation_gate.settle(screening, object_id=message.id, group_id=group.id)
    if not screening.visible:
        return message  # only the sender (in the reply) and the review queue see it
    payload = {"message": message_to_dict(message, author=sender, reply_to=reply_to, mentioned_ids=mentioned)}
    emit(
        EventType.MESSAGE_NEW,
        circle=circle_id,
        circle_timezone=circle_tz,
        actor_id=sender.id,
        group_id=group.id,
        data={"message_id": message.id, "length": len(body)},
        payload=payload,
    )
    # Search and link snapshots follow the message (after commit; the listeners are cheap).
    transaction.on_commit(lambda: content_saved.send(sender=Message, kind="message", object_id=message.id,
                                                     circle_id=circle_id, text=body, created=True))
    preview = f"{sender.name}: {body[:140]}"
    if mentioned:
        _notify(mentioned, circle_id=circle_id, kind=NoticeKind.MENTION, text=preview, message=message)
    if dm_peer_id is not None and dm_peer_id not in mentioned:
        dms.notify_dm(message=message, sender=sender, peer_id=dm_peer_id, circle_id=circle_id)
    if kind == GroupKind.CHANNEL or mention_all:
        from .tasks import fan_out_notices

        notice_kind = NoticeKind.CHANNEL_POST if kind == GroupKind.CHANNEL else NoticeKind.MENTION
        transaction.on_commit(lambda: fan_out_notices.enqueue(message_id=message.id, kind=str(notice_kind)))
    return message


def post_system_message(*, group: Group, body: str, actor_id: int | None = None) -> Message:
    """A message from Quanzi itself (welcome, announcements of changes). Caller holds the transaction."""
    message = Message.objects.create(
        group=group, author=None, kind=MessageKind.SYSTEM, body=body, body_html=markdown.render(body)
    )
    emit(
        EventType.MESSAGE_NEW,
        circle=group.circle_id,
        actor_id=actor_id,
        group_id=group.id,
        data={"message_id": message.id, "system": True},
        payload={"message": message_to_dict(message, author=None)},
    )
    return message


def _load_message_for(actor, message_id: int) -> tuple[Message, Membership | None]:
    if as_db_id(message_id) is None:
        raise NotFound(_("No such message."), code="message_not_found")
    message = (
        Message.objects.select_for_update(of=("self",))
        .select_related("group", "author")
        .filter(id=message_id)
        .first()
    )
    if message is None or message.deleted_at is not None:
        raise NotFound(_("No such message."), code="message_not_found")
    membership = _locked_membership(message.group.circle_id, actor)
    if not rules.is_active(membership):
        raise NotFound(_("No such message."), code="message_not_found")
    if message.group.kind == GroupKind.DM and not GroupMember.objects.filter(group_id=message.group_id,
                                                                          user=actor).exists():
        raise NotFound(_("No such message."), code="message_not_found")  # others' DMs stay private
    return message, membership


def _within_edit_window(message: Message) -> bool:
    return timezone.now() - message.created_at <= timedelta(seconds=settings.QUANZI_EDIT_WINDOW_SECONDS)


@transaction.atomic
def do_edit_message(*, actor, message_id: int, body: str) -> Message:
    body = _clean_body(body)
    message, membership = _load_message_for(actor, message_id)
    rules.check_edit_message(
        membership, is_author=message.author_id == actor.id, within_window=_within_edit_window(message)
    )
    rules.check_can_post(
        membership, group_kind=message.group.kind, group_mute_all=message.group.mute_all
    )
    if message.group.kind == GroupKind.DM:
        dms.check_dm_send(group_id=message.group_id, sender_membership=membership)
    names, mention_all = markdown.find_mentions(body)
    if mention_all and not message.mentions_all:
        rules.check_mention_all(membership)
    resolved = _resolve_mentions(message.group_id, names)
    screening = moderation_gate.screen(actor=actor, circle=message.group.circle_id, kind="message", text=body,
                                       group=message.group_id, mentions=len(resolved), membership=membership)
    message.body = body
    message.body_html = markdown.render(body, mentions=resolved, mention_all=mention_all)
    message.edited_at = timezone.now()
    message.save(update_fields=["body", "body_html", "edited_at"])
    if not moderation_gate.after_edit(screening, message):
        return message  # held or removed: others are not sent the new text
    emit(
        EventType.MESSAGE_EDITED,
        circle=message.group.circle_id,
        actor_id=actor.id,
        group_id=message.group_id,
        data={"message_id": message.id},
        payload={"message": message_to_dict(message, author=message.author)},
    )
    transaction.on_commit(lambda: content_saved.send(sender=Message, kind="message", object_id=message.id,
                                                     circle_id=message.group.circle_id, text=body, created=False))
    return message


@transaction.atomic
def do_delete_message(*, actor, message_id: int, reason: str = "") -> Message:
    message, membership = _load_message_for(actor, message_id)
    is_author = message.author_id == actor.id
    if message.group.kind == GroupKind.DM and not is_author:  # a moderator in a DM is just a participant
        raise Forbidden(_("Only the author can delete a direct message."), code="not_author")
    author_membership = (
        Membership.objects.filter(circle_id=message.group.circle_id, user_id=message.author_id).first()
        if message.author_id
        else None
    )
    rules.check_delete_message(
        membership, is_author=is_author, within_window=_within_edit_window(message),
        author_membership=author_membership,
    )
    if not is_author:
        audit.record(
            circle=message.group.circle,
            actor=actor,
            action="message.delete",
            target_user=message.author,
            target_repr=message.author.username if message.author else "system",
            reason=reason,
            data={"message_id": message.id, "group_id": message.group_id, "body": message.body[:4000]},
        )
    message.deleted_at = timezone.now()
    message.deleted_by = actor
    message.body = ""
    message.body_html = ""
    message.pinned_at = None
    message.save(update_fields=["deleted_at", "deleted_by", "body", "body_html", "pinned_at"])
    emit(
        EventType.MESSAGE_DELETED,
        circle=message.group.circle_id,
        actor_id=actor.id,
        group_id=message.group_id,
        data={"message_id": message.id, "by_moderator": not is_author},
        payload={"message_id": message.id},
    )
    transaction.on_commit(lambda: content_removed.send(sender=Message, kind="message", object_id=message.id,
                                                       circle_id=message.group.circle_id))
    return message


@transaction.atomic
def do_set_pinned(*, actor, message_id: int, pinned: bool) -> Message:
    message, membership = _load_message_for(actor, message_id)
    rules.check_moderate_group(membership)
    if bool(message.pinned_at) == pinned:
        return message
    message.pinned_at = timezone.now() if pinned else None
    message.pinned_by = actor if pinned else None
    message.save(update_fields=["pinned_at", "pinned_by"])
    audit.record(
        circle=message.group.circle,
        actor=actor,
        action="message.pin" if pinned else "message.unpin",
        target_user=message.author,
        target_repr=f"message #{message.id}",
        data={"message_id": message.id, "group_id": message.group_id},
    )
    emit(
        EventType.MESSAGE_PINNED if pinned else EventType.MESSAGE_UNPINNED,
        circle=message.group.circle_id,
        actor_id=actor.id,
        group_id=message.group_id,
        data={"message_id": message.id},
        payload={"message_id": message.id},
    )
    return message


def do_mark_read(*, user, group: Group, message_id: int) -> int:
    """Move the read marker forward (never backward); returns the marker."""
    if not isinstance(message_id, int) or isinstance(message_id, bool) or message_id < 0:
        raise InvalidInput(_("Invalid message id."), code="invalid_message_id")
    # A marker past the newest message would hide every future message from the unread count.
    newest = Message.objects.filter(group=group).order_by("-id").values_list("id", flat=True).first() or 0
    message_id = min(message_id, newest)
    updated = GroupMember.objects.filter(group=group, user=user, last_read_message_id__lt=message_id).update(
        last_read_message_id=message_id
    )
    if not updated and not GroupMember.objects.filter(group=group, user=user).exists():
        raise NotFound(_("No such group."), code="group_not_found")
    return GroupMember.objects.filter(group=group, user=user).values_list("last_read_message_id", flat=True)[0]


def do_mark_notices_read(*, user, notice_ids: list[int] | None = None) -> int:
    qs = Notice.objects.filter(user=user, read_at__isnull=True)
    if notice_ids is not None:
        qs = qs.filter(id__in=notice_ids)
    return qs.update(read_at=timezone.now())


def add_members_to_group(group: Group, user_ids: list[int]) -> None:
    GroupMember.objects.bulk_create(
        [GroupMember(group=group, user_id=uid) for uid in user_ids], ignore_conflicts=True
    )


def remove_user_from_circle_groups(circle_id: int, user_id: int) -> None:
    # DM seats stay (unreadable while not an active member; the conversation is back on rejoining).
    GroupMember.objects.filter(group__circle_id=circle_id, user_id=user_id).exclude(group__kind=GroupKind.DM).delete()


def notify_many(user_ids: list[int], *, circle_id: int | None, kind: str, text: str, message=None) -> None:
    _notify(user_ids, circle_id=circle_id, kind=kind, text=text, message=message)


def notify_user(*, user_id: int, circle_id: int | None, kind: str, text: str, message: Message | None = None) -> None:
    _notify([user_id], circle_id=circle_id, kind=kind, text=text, message=message)


__all__ = [
    "do_create_group",
    "do_update_group",
    "do_join_group",
    "do_leave_group",
    "do_send_message",
    "do_edit_message",
    "do_delete_message",
    "do_set_pinned",
    "do_mark_read",
    "do_mark_notices_read",
    "post_system_message",
]
