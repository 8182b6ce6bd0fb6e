"""What a client may ask over the WebSocket: validate the frame, call the action, shape the reply.

Each handler is synchronous and runs in one ``database_sync_to_async`` hop. Permission
checks live in the actions (``circles.rules``), exactly as for the web UI and the API;
these functions only check the frame's shape. Domain errors propagate as
:class:`QuanziError` and become ``error`` frames in the consumer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils.translation import gettext as _

from quanzi.chat import actions as chat_actions
from quanzi.chat.access import access_group
from quanzi.chat.models import Group
from quanzi.chat.selectors import message_page, message_to_dict, messages_to_dicts
from quanzi.core.errors import NotFound, QuanziError

from .selectors import circle_id_of_group

Frame = dict[str, Any]
Reply = dict[str, Any]


class BadFrame(QuanziError):
    status = 400
    code = "bad_request"


def _id(frame: Frame, name: str, *, required: bool = True, minimum: int = 1) -> int | None:
    value = frame.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum or value > 2**63 - 1:
        raise BadFrame(_("“%(field)s” must be a positive integer.") % {"field": name})
    return value


def _text(frame: Frame, name: str, *, required: bool = True, max_length: int | None = None) -> str | None:
    value = frame.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise BadFrame(_("“%(field)s” must be a string.") % {"field": name})
    if max_length is not None and len(value) > max_length:
        raise BadFrame(_("“%(field)s” is too long.") % {"field": name})
    return value


def _one_message(message) -> dict[str, Any]:
    if "@" not in message.body:  # no mention is possible: skip the mentions query
        return message_to_dict(message, mentioned_ids=[])
    return messages_to_dicts([message])[0]


def _group_for_send(group_id: int) -> Group:
    """Just the group's ids: ``do_send_message`` itself loads the group and checks the
    sender's membership (a non-member gets the same "no such group" as a missing id),
    so a second access check here would only repeat its queries on the hottest path."""
    circle_id = circle_id_of_group(group_id)
    if circle_id is None:
        raise NotFound(_("No such group."), code="group_not_found")
    return Group(id=group_id, circle_id=circle_id)


def send_message(user, frame: Frame) -> Reply:
    group_id = _id(frame, "group_id")
    body = _text(frame, "body")
    reply_to = _id(frame, "reply_to", required=False)
    client_id = _text(frame, "client_id", required=False, max_length=64) or ""
    group = _group_for_send(group_id)
    message = chat_actions.do_send_message(
        sender=user, group=group, body=body, reply_to_id=reply_to, client_id=client_id
    )
    return {"type": "message.ack", "message": _one_message(message)}


def edit_message(user, frame: Frame) -> Reply:
    message_id, body = _id(frame, "message_id"), _text(frame, "body")
    message = chat_actions.do_edit_message(actor=user, message_id=message_id, body=body)
    return {"type": "message.ack", "message": _one_message(message)}


def delete_message(user, frame: Frame) -> Reply:
    message_id = _id(frame, "message_id")
    reason = _text(frame, "reason", required=False, max_length=500) or ""
    message = chat_actions.do_delete_message(actor=user, message_id=message_id, reason=reason)
    return {"type": "message.ack", "message": _one_message(message)}


def mark_read(user, frame: Frame) -> Reply:
    group_id, message_id = _id(frame, "group_id"), _id(frame, "message_id", minimum=0)
    group, _membership = access_group(group_id, user)
    marker = chat_actions.do_mark_read(user=user, group=group, message_id=message_id)
    return {"type": "read.ack", "group_id": group.id, "last_read_message_id": marker}


def sync(user, frame: Frame) -> Reply:
    """What a reconnecting client missed: messages after ``after`` in id order (a page)."""
    group_id = _id(frame, "group_id")
    after = _id(frame, "after", minimum=0)
    limit = _id(frame, "limit", required=False)
    group, _membership = access_group(group_id, user)
    messages, more = message_page(group, after=after, limit=limit, viewer_id=user.id)
    return {"type": "sync", "group_id": group.id, "messages": messages_to_dicts(messages), "more": more}


HANDLERS: dict[str, Callable[[Any, Frame], Reply]] = {
    "message.send": send_message,
    "message.edit": edit_message,
    "message.delete": delete_message,
    "read": mark_read,
    "sync": sync,
}
