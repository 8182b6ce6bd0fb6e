"""Groups, messages, pins, read markers, unread counts and personal notices."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Query, Router, Status

from quanzi.chat import actions
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
    unread_notice_count,
)
from quanzi.core.errors import InvalidInput

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
    group, _m = access_group(group_id, current_user(request))
    rows, more = message_page(group, before=before, after=after, limit=limit)
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
