"""Who receives a domain event, and which subscriptions it changes.

A route is a small JSON-able dict: ``to`` lists hub keys whose sockets receive the
event; ``pre`` lists subscription changes applied before delivery (a joiner sees their
own ``member.joined`` and everything after it); ``post`` lists changes applied after
delivery (a kicked member still learns they were kicked, then nothing more).
"""

from __future__ import annotations

from quanzi.circles.models import Role
from quanzi.core.events import Event, EventType

from .hub import Route, circle_key, group_key, mods_key, user_key

MODERATOR_ROLES = {Role.MODERATOR.value, Role.ADMIN.value, Role.OWNER.value}

_REMOVALS = {EventType.MEMBER_LEFT, EventType.MEMBER_KICKED, EventType.MEMBER_BANNED}
_GROUP_EVENTS = {
    EventType.MESSAGE_NEW,
    EventType.MESSAGE_EDITED,
    EventType.MESSAGE_DELETED,
    EventType.MESSAGE_PINNED,
    EventType.MESSAGE_UNPINNED,
    EventType.GROUP_UPDATED,
}
# Money is private: an order's or a payout's events reach only the person they concern.
_FOR_TARGET_USER_ONLY = {
    EventType.ORDER_CREATED,
    EventType.ORDER_PAID,
    EventType.ORDER_FAILED,
    EventType.ORDER_CANCELLED,
    EventType.ORDER_REFUNDED,
    EventType.ORDER_SETTLED,
    EventType.MEMBERSHIP_RENEWAL_DUE,
    EventType.MEMBERSHIP_EXPIRED,
    EventType.PAYOUT_REQUESTED,
    EventType.PAYOUT_PAID,
    EventType.PAYOUT_REJECTED,
}
_FOR_MODERATORS = {
    EventType.JOIN_REQUESTED,
    EventType.JOIN_REQUEST_APPROVED,
    EventType.JOIN_REQUEST_REJECTED,
}


def audience_for(event: Event) -> Route | None:
    """The route of an event, or None when no socket should receive it."""
    kind = event.type
    cid, gid, uid = event.circle_id, event.group_id, event.target_user_id

    if kind == EventType.CREDENTIAL_REVOKED:
        credential = event.data.get("credential")
        return {"to": [], "post": [["revoke", uid, credential]]} if uid and credential else None
    if kind == EventType.NOTICE_NEW:
        return {"to": [user_key(uid)]} if uid else None
    if kind in (EventType.CHANNEL_FOLLOWED, EventType.CHANNEL_UNFOLLOWED):
        return {"to": [user_key(uid)]} if uid else None
    if kind == EventType.CIRCLE_CREATED:
        return {"to": [user_key(event.actor_id)]} if event.actor_id else None
    if cid is None or kind in _FOR_TARGET_USER_ONLY:
        return {"to": [user_key(uid)]} if uid else None

    if kind in _GROUP_EVENTS:
        return {"to": [group_key(cid, gid)]} if gid else None
    if kind == EventType.MEMBER_JOINED:
        member = event.payload.get("member") or {}
        role = member.get("role") or event.data.get("role") or Role.MEMBER
        group_ids = [int(g) for g in event.payload.get("group_ids") or []]
        return {"pre": [["join", uid, cid, group_ids, role in MODERATOR_ROLES]], "to": [circle_key(cid)]}
    if kind in _REMOVALS:
        return {"to": [circle_key(cid), user_key(uid)], "post": [["leave", uid, cid]]}
    if kind == EventType.MEMBER_ROLE_CHANGED:
        role = event.payload.get("role") or event.data.get("to")
        return {"pre": [["role", uid, cid, role in MODERATOR_ROLES]], "to": [circle_key(cid)]}
    if kind == EventType.OWNERSHIP_TRANSFERRED:
        return {"pre": [["role", uid, cid, True]], "to": [circle_key(cid)]}
    if kind == EventType.GROUP_CREATED:
        group = event.payload.get("group") or {}
        if group.get("kind") == "dm":  # a direct conversation: its two people only, nobody else learns of it
            people = [u for u in (event.actor_id, uid) if u]
            return {"pre": [["gjoin", u, cid, gid] for u in people], "to": [user_key(u) for u in people]}
        if group.get("kind") == "channel":  # every member gets a seat in the channel
            pre = [["cgjoin", cid, gid]]
        else:  # the creator sits in the new group
            pre = [["gjoin", event.actor_id, cid, gid]]
        return {"pre": pre, "to": [circle_key(cid)]}
    if kind == EventType.GROUP_MEMBER_JOINED:
        return {"pre": [["gjoin", uid, cid, gid]], "to": [group_key(cid, gid)]}
    if kind == EventType.GROUP_MEMBER_LEFT:
        return {"to": [group_key(cid, gid), user_key(uid)], "post": [["gleave", uid, cid, gid]]}
    if kind in _FOR_MODERATORS:
        keys = [mods_key(cid)]
        if uid:
            keys.append(user_key(uid))
        return {"to": keys}
    if kind in (EventType.INVITE_CREATED, EventType.INVITE_REVOKED):
        return {"to": [mods_key(cid)]}
    # member.muted/unmuted/unbanned, circle.updated and anything newer: the whole circle.
    return {"to": [circle_key(cid)]}
