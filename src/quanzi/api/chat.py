"""Groups, messages, pins, read markers, unread counts and personal notices."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status

from quanzi.chat import actions, dms
from quanzi.chat.access import access_group
from quanzi.chat.models import Group, GroupMember, Message
from quanzi.chat.selectors import (
    groups_for_member,
    message_page,
    messages_to_dicts,
    notice_to_dict,
    notices_for,
    pinned_messages,
    unread_by_group,
    unread_counts,
    unread_notice_count,
    user_brief,
)
from quanzi.core.errors import InvalidInput, NotFound

from .auth import current_user
from .circles import member_circle
from .pagination import paginate
from .schemas import (
    CountOut,
    Cursor,
    GroupCreate,
    GroupList,
    GroupOut,
    GroupPatch,
    Id,
    MessageCreate,
    MessageList,
    MessageOut,
    MessagePage,
    MessagePatch,
    NoticePage,
    NoticesReadIn,
    PageParams,
    ReadIn,
    ReadOut,
    UnreadOut,
    UserBrief,
    errors_for,
)

router = Router(tags=["chat"])


def group_out(group: Group, *, joined: bool, member_total: int) -> dict:
    return {
        "id": group.id,
        "circle_id": group.circle_id,
        "name": group.name,
        "topic": group.topic,
        "kind": group.kind,
        "mute_all": group.mute_all,
        "slow_mode_seconds": group.slow_mode_seconds,
        "created_at": group.created_at,
        "joined": joined,
        "member_total": member_total,
    }


def _group_detail(group: Group, user) -> dict:
    seats = GroupMember.objects.filter(group=group)
    return group_out(group, joined=seats.filter(user=user).exists(), member_total=seats.count())


def _message_dict(message: Message) -> dict:
    return messages_to_dicts([message])[0]


# --- groups -------------------------------------------------------------------------------


@router.get("/circles/{slug}/groups", response=errors_for({200: GroupList}))
def list_groups(request: HttpRequest, slug: str):
    """Groups of a circle you belong to, with whether you have joined each."""
    circle, _m = member_circle(request, slug)
    groups = groups_for_member(current_user(request), circle.id)
    items = [group_out(g, joined=g.joined_seat is not None, member_total=g.member_total) for g in groups]
    return {"items": items, "total": len(items)}


@router.post("/circles/{slug}/groups", response=errors_for({201: GroupOut}))
def create_group(request: HttpRequest, slug: str, payload: GroupCreate):
    """Admins: a new group (or the announcement channel with `kind: channel`)."""
    user = current_user(request)
    circle, _m = member_circle(request, slug)
    group = actions.do_create_group(actor=user, circle=circle, name=payload.name, topic=payload.topic,
                                    kind=payload.kind)
    return Status(201, _group_detail(group, user))


@router.get("/groups/{group_id}", response=errors_for({200: GroupOut}))
def get_group(request: HttpRequest, group_id: Id):
    user = current_user(request)
    group, _m = access_group(group_id, user, require_seat=False)
    return _group_detail(group, user)


@router.patch("/groups/{group_id}", response=errors_for({200: GroupOut}))
def update_group(request: HttpRequest, group_id: Id, payload: GroupPatch):
    """Name and topic (admins); mute-all and slow mode (moderators)."""
    user = current_user(request)
    group, _m = access_group(group_id, user, require_seat=False)
    fields = payload.dict(exclude_unset=True)
    group = actions.do_update_group(
        actor=user,
        group=group,
        name=fields.get("name"),
        topic=fields.get("topic"),
        mute_all=fields.get("mute_all"),
        slow_mode_seconds=fields.get("slow_mode_seconds"),
        reason=fields.get("reason") or "",
    )
    return _group_detail(group, user)


@router.post("/groups/{group_id}/join", response=errors_for({200: GroupOut}))
def join_group(request: HttpRequest, group_id: Id):
    user = current_user(request)
    group, _m = access_group(group_id, user, require_seat=False)
    actions.do_join_group(user=user, group=group)
    return _group_detail(group, user)


@router.post("/groups/{group_id}/leave", response=errors_for({200: GroupOut}))
def leave_group(request: HttpRequest, group_id: Id):
    user = current_user(request)
    group, _m = access_group(group_id, user, require_seat=False)
    actions.do_leave_group(user=user, group=group)
    return _group_detail(group, user)


# --- messages -----------------------------------------------------------------------------


@router.get("/groups/{group_id}/messages", response=errors_for({200: MessagePage}))
def list_messages(
    request: HttpRequest,
    group_id: Id,
    before: Cursor | None = None,
    after: Cursor | None = None,
    limit: int = Query(50, ge=1, le=200),
):
    """History by id cursor. Without cursors: the newest page. `before`: older than that id.
    `after`: newer than that id, oldest first (catching up after a reconnect)."""
    if before is not None and after is not None:
        raise InvalidInput(_("Page with either before or after, not both."), code="invalid_cursor")
    user = current_user(request)
    group, _m = access_group(group_id, user)
    rows, more = message_page(group, before=before, after=after, limit=limit, viewer_id=user.id)
    items = messages_to_dicts(rows)
    if after is not None:
        next_before = items[0]["id"] if items else None
        next_after = items[-1]["id"] if items else after
    else:
        next_before = items[0]["id"] if items and more else None
        next_after = items[-1]["id"] if items else None
    return {"items": items, "has_more": more, "next_before": next_before, "next_after": next_after}


@router.post("/groups/{group_id}/messages", response=errors_for({201: MessageOut}))
def send_message(request: HttpRequest, group_id: Id, payload: MessageCreate):
    """Post a message. Markdown subset; `@username` mentions; `@all` for admins."""
    user = current_user(request)
    group, _m = access_group(group_id, user, require_seat=False)
    message = actions.do_send_message(
        sender=user, group=group, body=payload.body, reply_to_id=payload.reply_to, client_id=payload.client_id
    )
    return Status(201, _message_dict(message))


@router.patch("/messages/{message_id}", response=errors_for({200: MessageOut}))
def edit_message(request: HttpRequest, message_id: Id, payload: MessagePatch):
    """Authors, within the edit window."""
    message = actions.do_edit_message(actor=current_user(request), message_id=message_id, body=payload.body)
    return _message_dict(message)


@router.delete("/messages/{message_id}", response=errors_for({200: MessageOut}))
def delete_message(request: HttpRequest, message_id: Id, reason: str = ""):
    """Authors within the edit window; moderators on lower roles (recorded in the audit log)."""
    message = actions.do_delete_message(actor=current_user(request), message_id=message_id, reason=reason)
    return _message_dict(message)


@router.post("/messages/{message_id}/pin", response=errors_for({200: MessageOut}))
def pin_message(request: HttpRequest, message_id: Id):
    message = actions.do_set_pinned(actor=current_user(request), message_id=message_id, pinned=True)
    return _message_dict(message)


@router.delete("/messages/{message_id}/pin", response=errors_for({200: MessageOut}))
def unpin_message(request: HttpRequest, message_id: Id):
    message = actions.do_set_pinned(actor=current_user(request), message_id=message_id, pinned=False)
    return _message_dict(message)


@router.get("/groups/{group_id}/pins", response=errors_for({200: MessageList}))
def list_pins(request: HttpRequest, group_id: Id):
    """Pinned messages, most recently pinned first."""
    group, _m = access_group(group_id, current_user(request))
    return {"items": messages_to_dicts(pinned_messages(group, limit=100))}


@router.post("/groups/{group_id}/read", response=errors_for({200: ReadOut}))
def mark_read(request: HttpRequest, group_id: Id, payload: ReadIn):
    """Move your read marker forward to `message_id` (never backward)."""
    user = current_user(request)
    group, _m = access_group(group_id, user)
    marker = actions.do_mark_read(user=user, group=group, message_id=payload.message_id)
    return {"group_id": group.id, "last_read_message_id": marker}


@router.get("/unread", response=errors_for({200: UnreadOut}))
def unread(request: HttpRequest, circle_id: Id | None = None):
    """Unread messages per group you sit in, and your unread notices."""
    user = current_user(request)
    groups = [
        {"group_id": row.group_id, "circle_id": row.circle_id, "unread": row.unread}
        for row in unread_by_group(user, circle_id=circle_id)
    ]
    return {"groups": groups, "total": sum(g["unread"] for g in groups), "notices": unread_notice_count(user)}


# --- notices ------------------------------------------------------------------------------


@router.get("/notices", response=errors_for({200: NoticePage}))
def list_notices(request: HttpRequest, page: Query[PageParams], unread_only: bool = False):
    """Your personal notices, newest first."""
    user = current_user(request)
    return paginate(notices_for(user, unread_only=unread_only), page, notice_to_dict, unread=unread_notice_count(user))


@router.post("/notices/read", response=errors_for({200: CountOut}))
def mark_notices_read(request: HttpRequest, payload: NoticesReadIn | None = None):
    """Mark the given notices (or all) as read; returns how many changed."""
    ids = payload.ids if payload else None
    count = actions.do_mark_notices_read(user=current_user(request), notice_ids=ids)
    return {"count": count}


# --- direct messages and blocks (docs/dms.md) -----------------------------------------------
# A DM conversation is a group: its messages go through the message endpoints above.


class DmStart(Schema):
    user_id: Id


class CannotSendOut(Schema):
    code: str
    message: str


class DmOut(Schema):
    group_id: int
    circle_id: int
    peer: UserBrief
    unread: int
    last_message: MessageOut | None = None
    can_send: bool | None = Field(None, description="Only on a single conversation: may you send now?")
    cannot_send: CannotSendOut | None = Field(None, description="Why not, when you may not send.")


class DmList(Schema):
    items: list[DmOut]
    total: int


class BlockOut(Schema):
    user: UserBrief
    created_at: datetime


class BlockList(Schema):
    items: list[BlockOut]
    total: int


def _dm_detail(group: Group, user, membership) -> dict:
    room = dms.dm_room(group, membership)
    last = dms.last_message_seen_by(group.id, user)
    return {
        "group_id": group.id,
        "circle_id": group.circle_id,
        "peer": user_brief(room.peer),
        "unread": unread_counts(user, circle_id=group.circle_id).get(group.id, 0),
        "last_message": _message_dict(last) if last else None,
        "can_send": room.can_send,
        "cannot_send": {"code": room.reason_code, "message": room.reason} if not room.can_send else None,
    }


@router.get("/circles/{slug}/dms", response=errors_for({200: DmList}))
def list_dms(request: HttpRequest, slug: str):
    """Your direct conversations in this circle, most recently active first."""
    user = current_user(request)
    circle, _m = member_circle(request, slug)
    conversations = dms.dm_conversations(user, circle.id)
    last = {c.last_message.id: c.last_message for c in conversations if c.last_message}
    last_dicts = {m["id"]: m for m in messages_to_dicts(list(last.values()))}
    items = [
        {
            "group_id": c.group_id,
            "circle_id": circle.id,
            "peer": user_brief(c.peer),
            "unread": c.unread,
            "last_message": last_dicts.get(c.last_message.id) if c.last_message else None,
        }
        for c in conversations
    ]
    return {"items": items, "total": len(items)}


@router.post("/circles/{slug}/dms", response=errors_for({200: DmOut}))
def start_dm(request: HttpRequest, slug: str, payload: DmStart):
    """Start (or reopen) your conversation with a member, if the circle's DM policy and blocks allow it."""
    user = current_user(request)
    circle, _m = member_circle(request, slug)
    group = dms.do_start_dm(actor=user, circle=circle, user_id=payload.user_id)
    _group, membership = access_group(group.id, user)
    return _dm_detail(group, user, membership)


@router.get("/circles/{slug}/dms/{user_id}", response=errors_for({200: DmOut}))
def get_dm(request: HttpRequest, slug: str, user_id: Id):
    """Your existing conversation with this person (readable even when new messages are not allowed)."""
    user = current_user(request)
    circle, membership = member_circle(request, slug)
    group = dms.dm_with(user, circle.id, user_id)
    if group is None:
        raise NotFound(_("You have no conversation with this person here."), code="dm_not_found")
    return _dm_detail(group, user, membership)


@router.get("/me/blocks", response=errors_for({200: BlockList}))
def list_blocks(request: HttpRequest):
    """People you blocked (no direct messages either way, in every circle)."""
    items = [{"user": user_brief(b.blocked), "created_at": b.created_at}
             for b in dms.blocked_users(current_user(request))[:1000]]
    return {"items": items, "total": len(items)}


@router.put("/me/blocks/{user_id}", response=errors_for({200: BlockOut}))
def block_user(request: HttpRequest, user_id: Id):
    """Block someone. Your conversations stay readable; nobody can send in them until you unblock."""
    block = dms.do_block(actor=current_user(request), user_id=user_id)
    return {"user": user_brief(block.blocked), "created_at": block.created_at}


@router.delete("/me/blocks/{user_id}", response=errors_for({200: CountOut}))
def unblock_user(request: HttpRequest, user_id: Id):
    """Unblock someone; `count` is 0 when they were not blocked."""
    return {"count": int(dms.do_unblock(actor=current_user(request), user_id=user_id))}
