"""Every WebSocket frame type × every kind of caller, through the real ASGI application.

Each row names the REST API row that does the same thing, and the expected answers are
taken from that hand-written row: an API 2xx must be an ack here and an API error must be
an ``error`` frame with the very same code (a muted member gets ``muted`` on both, an
outsider ``group_not_found`` on both). Anonymous sockets never get that far: the handshake
is accepted only to carry close code 4401, and frames sent on it are ignored.

The test fails when the consumer accepts a frame type without a row here, or a row names a
frame type that no longer exists. The rest of the file covers what the matrix can't:
rights that change while a socket is open, and handshakes from foreign origins.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from quanzi.accounts import actions as account_actions
from quanzi.asgi import application
from quanzi.chat import actions as chat_actions
from quanzi.chat.models import Group, GroupMember, Message
from quanzi.circles import actions as circle_actions
from quanzi.circles.models import Circle, JoinMode
from quanzi.core.models import AuditEntry, DomainEvent
from quanzi.realtime import commands
from quanzi.realtime import hub as hub_module
from quanzi.realtime.consumers import CLOSE_NOT_AUTHENTICATED, RealtimeConsumer

from .conftest import ACTORS, World, build_world, make_plain_user
from .test_api_permission_matrix import ROWS as API_ROWS
from .test_api_permission_matrix import _dm_member_victim

pytestmark = pytest.mark.django_db(transaction=True)
sync = database_sync_to_async

ORIGIN = (b"origin", b"http://localhost")
API = {row.key: row for row in API_ROWS}

Frame = Callable[[World, str], dict[str, Any]]


@dataclass(frozen=True)
class WsRow:
    type: str
    variant: str
    api: str | None  # key of the API row with the same meaning; None: answered the same for everyone
    frame: Frame  # built right before each actor sends it (it may create what it acts on)
    ack: str  # the reply type when the request succeeds

    @property
    def key(self) -> str:
        return f"{self.type} [{self.variant}]"

    def expected(self, actor: str) -> str:
        if self.api is None:
            return self.ack
        answer = API[self.api].expect[ACTORS.index(actor)]
        status, _sep, code = answer.partition(" ")
        return self.ack if status.startswith("2") else f"error {code}"


def fresh_message_by(author: str) -> Callable[[World], int]:
    """A new message of ``author`` in the main group, so earlier actors' deletions don't matter."""

    def make(w: World) -> int:
        main = Group.objects.get(id=w.main)
        return chat_actions.do_send_message(sender=w.users[author], group=main, body=f"fresh from {author}").id

    return make


def own_or_fresh(w: World, actor: str) -> int:
    return w.own_message[actor] if actor in w.own_message else fresh_message_by("member")(w)


def delete_of(author: str) -> Frame:
    return lambda w, a: {"type": "message.delete", "message_id": fresh_message_by(author)(w)}


WS_ROWS = [
    WsRow("ping", "", None, lambda w, a: {"type": "ping"}, "pong"),
    WsRow("message.send", "main", "POST /groups/{group_id}/messages [main]",
          lambda w, a: {"type": "message.send", "group_id": w.main, "body": "hello"}, "message.ack"),
    WsRow("message.send", "channel", "POST /groups/{group_id}/messages [channel]",
          lambda w, a: {"type": "message.send", "group_id": w.channel, "body": "news"}, "message.ack"),
    WsRow("message.send", "side (not seated)", "POST /groups/{group_id}/messages [side (not seated)]",
          lambda w, a: {"type": "message.send", "group_id": w.side, "body": "hi"}, "message.ack"),
    WsRow("message.edit", "own", "PATCH /messages/{message_id} [own]",
          lambda w, a: {"type": "message.edit", "message_id": own_or_fresh(w, a), "body": "edited"}, "message.ack"),
    WsRow("message.edit", "the member's", "PATCH /messages/{message_id} [the member's]",
          lambda w, a: {"type": "message.edit", "message_id": w.own_message["member"], "body": "edited"},
          "message.ack"),
    WsRow("message.delete", "own", "DELETE /messages/{message_id} [own]",
          lambda w, a: {"type": "message.delete", "message_id": own_or_fresh(w, a)}, "message.ack"),
    WsRow("message.delete", "the member's", "DELETE /messages/{message_id} [the member's]", delete_of("member"),
          "message.ack"),
    WsRow("message.delete", "the moderator's", "DELETE /messages/{message_id} [the moderator's]",
          delete_of("moderator"), "message.ack"),
    WsRow("message.delete", "the admin's", "DELETE /messages/{message_id} [the admin's]", delete_of("admin"),
          "message.ack"),
    WsRow("message.delete", "the owner's", "DELETE /messages/{message_id} [the owner's]", delete_of("owner"),
          "message.ack"),
    WsRow("read", "main", "POST /groups/{group_id}/read [main]",
          lambda w, a: {"type": "read", "group_id": w.main, "message_id": w.last_message}, "read.ack"),
    WsRow("read", "side (not seated)", "POST /groups/{group_id}/read [side (not seated)]",
          lambda w, a: {"type": "read", "group_id": w.side, "message_id": w.last_message}, "read.ack"),
    WsRow("sync", "main", "GET /groups/{group_id}/messages [catch up]",
          lambda w, a: {"type": "sync", "group_id": w.main, "after": 1}, "sync"),
    WsRow("sync", "side (not seated)", "GET /groups/{group_id}/messages [side (not seated)]",
          lambda w, a: {"type": "sync", "group_id": w.side, "after": 0}, "sync"),
]
# --- chat DMs: a conversation of the member and the victim, made right before each actor's frame ---
WS_ROWS += [
    WsRow("message.send", "a DM (member ↔ victim)", "POST /groups/{group_id}/messages [a DM (member ↔ victim)]",
          lambda w, a: {"type": "message.send", "group_id": _dm_member_victim(w).id, "body": "psst"}, "message.ack"),
    WsRow("sync", "a DM (member ↔ victim)", "GET /groups/{group_id}/messages [a DM (member ↔ victim)]",
          lambda w, a: {"type": "sync", "group_id": _dm_member_victim(w).id, "after": 0}, "sync"),
]


def accepted_frame_types() -> set[str]:
    """The command table plus the frames the consumer answers itself (``kind == "ping"``)."""
    inline = set(re.findall(r'kind == "([\w.]+)"', inspect.getsource(RealtimeConsumer.receive)))
    return set(commands.HANDLERS) | inline


def test_every_frame_type_has_a_row():
    rows = {row.type for row in WS_ROWS}
    accepted = accepted_frame_types()
    assert "ping" in accepted  # the source scan still finds the inline frames
    assert accepted - rows == set(), "add rows for these frame types"
    assert rows - accepted == set(), "these rows name frame types the consumer no longer accepts"
    assert len({row.key for row in WS_ROWS}) == len(WS_ROWS)
    for row in WS_ROWS:
        assert row.api is None or row.api in API, f"{row.key}: no API row {row.api!r}"


# --- sockets ----------------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def private_realtime_channel(settings):
    """With Redis, each test talks on its own pub/sub channel, so parallel runs never cross."""
    settings.REALTIME_CHANNEL = f"quanzi-test-{uuid.uuid4().hex}:events"


@pytest.fixture
async def stop_hub():
    """Stop this test loop's hub (its Redis subscriber) before the loop closes."""
    yield
    hub = hub_module.current_hub()
    if hub is not None and not hub.loop.is_closed():
        await hub.close()


class Socket:
    def __init__(self, communicator: WebsocketCommunicator) -> None:
        self.comm = communicator

    async def request(self, frame: dict, timeout: float = 5) -> dict:
        """Send with a fresh ref; the reply carrying that ref (events in between are skipped)."""
        ref = uuid.uuid4().hex[:8]
        await self.comm.send_to(text_data=json.dumps({**frame, "ref": ref}))
        while True:
            reply = await self.comm.receive_json_from(timeout=timeout)
            if reply.get("ref") == ref:
                return reply

    async def receive_type(self, kind: str, timeout: float = 3) -> dict:
        while True:
            frame = await self.comm.receive_json_from(timeout=timeout)
            if frame.get("type") == kind:
                return frame

    async def drain(self, quiet: float = 0.3) -> list[dict]:
        frames = []
        while not await self.comm.receive_nothing(timeout=quiet):
            frames.append(await self.comm.receive_json_from(timeout=1))
        return frames


async def handshake(path: str = "/ws/", origin: tuple[bytes, bytes] | None = ORIGIN):
    communicator = WebsocketCommunicator(application, path, headers=[origin] if origin else [])
    connected, _detail = await communicator.connect(timeout=5)
    return connected, communicator


@pytest.fixture
async def sockets(stop_hub):
    """``await open_as(raw_token)`` → a ready Socket; all are closed at the end."""
    opened: list[WebsocketCommunicator] = []

    async def open_as(token: str) -> Socket:
        connected, communicator = await handshake(f"/ws/?token={token}")
        assert connected
        opened.append(communicator)
        ready = await communicator.receive_json_from(timeout=5)
        assert ready["type"] == "ready", ready
        return Socket(communicator)

    yield open_as
    for communicator in opened:
        try:
            await communicator.disconnect()
        except (Exception, asyncio.CancelledError):  # already closed by the server, or the app was cancelled
            pass


@pytest.fixture
def world(transactional_db) -> World:
    return build_world(make_plain_user, visibility="private")


def _state() -> dict[str, list]:
    """What a chat frame could write; equal before and after means a refused frame wrote nothing."""
    return {
        "messages": list(Message.objects.order_by("id").values("id", "body", "edited_at", "deleted_at", "pinned_at")),
        "seats": list(GroupMember.objects.order_by("id").values("id", "last_read_message_id", "last_posted_at")),
        "events": list(DomainEvent.objects.values_list("id", flat=True)),
        "audit": list(AuditEntry.objects.values_list("id", flat=True)),
    }


def _answer(reply: dict) -> str:
    return f"error {reply.get('code')}" if reply.get("type") == "error" else str(reply.get("type"))


@pytest.mark.parametrize("row", WS_ROWS, ids=lambda row: row.key)
async def test_ws_matrix(row: WsRow, world: World, sockets):
    # Anonymous: accepted only to be closed with 4401; the frame is never acted on.
    connected, anon = await handshake()
    assert connected
    await anon.send_to(text_data=json.dumps(await sync(row.frame)(world, "anon")))
    assert await anon.receive_output(timeout=3) == {"type": "websocket.close", "code": CLOSE_NOT_AUTHENTICATED}
    assert await anon.receive_nothing(timeout=0.1)

    wrong = []
    for actor in ACTORS[1:]:
        socket = await sockets(world.tokens[actor])
        frame = await sync(row.frame)(world, actor)
        before = await sync(_state)()
        reply = await socket.request(frame)
        got, want = _answer(reply), row.expected(actor)
        if got != want:
            wrong.append(f"{actor:>12}: expected {want}, got {got} ({reply.get('message')})")
        elif reply["type"] == "error":
            assert reply["message"], reply
            if await sync(_state)() != before:
                wrong.append(f"{actor:>12}: refused with {got} but something was written")
    assert not wrong, f"{row.key}\n" + "\n".join(wrong)


# --- rights that change while the socket is open ------------------------------------------------------------------
# tests/realtime/test_consumer.py already shows a kicked, banned or leaving member gets nothing more of the circle
# and can't post; here: nothing else works on that socket either, and mute and demotion also apply at once.


@pytest.fixture
def people(transactional_db, make_user):
    owner = make_user("owner")
    circle = circle_actions.do_create_circle(owner=owner, name="Live", slug="live", visibility="private")
    users = {"owner": owner}
    for key in ("member", "moderator"):
        users[key] = make_user(key)
        circle_actions.do_join_circle(user=users[key], circle=circle)
    circle_actions.do_set_role(actor=owner, circle=circle, user_id=users["moderator"].id, role="moderator")
    own = chat_actions.do_send_message(sender=users["member"], group=Group.objects.get(id=circle.main_group_id),
                                       body="mine")
    tokens = {key: account_actions.do_create_token(user=user, name="ws")[1] for key, user in users.items()}
    return circle, users, tokens, own.id


@pytest.mark.parametrize("removal", ["kick", "ban"])
async def test_removed_members_open_socket_can_do_nothing_more_in_the_circle(people, sockets, removal):
    circle, users, tokens, own_message = people
    socket = await sockets(tokens["member"])
    act = circle_actions.do_kick_member if removal == "kick" else circle_actions.do_ban_member
    await sync(act)(actor=users["owner"], circle=circle, user_id=users["member"].id)
    await socket.receive_type(f"member.{'kicked' if removal == 'kick' else 'banned'}")
    main = circle.main_group_id
    refused = {
        "sync": await socket.request({"type": "sync", "group_id": main, "after": 0}),
        "read": await socket.request({"type": "read", "group_id": main, "message_id": own_message}),
        "edit": await socket.request({"type": "message.edit", "message_id": own_message, "body": "rewritten"}),
        "delete": await socket.request({"type": "message.delete", "message_id": own_message}),
    }
    assert {name: _answer(reply) for name, reply in refused.items()} == {
        "sync": "error group_not_found",
        "read": "error group_not_found",
        "edit": "error message_not_found",
        "delete": "error message_not_found",
    }
    assert (await sync(Message.objects.get)(id=own_message)).body == "mine"
    assert (await socket.request({"type": "ping"}))["type"] == "pong"  # the socket itself stays usable


async def test_mute_applies_to_an_open_socket_at_once_and_reading_goes_on(people, sockets):
    circle, users, tokens, own_message = people
    socket = await sockets(tokens["member"])
    await sync(circle_actions.do_mute_member)(actor=users["moderator"], circle=circle, user_id=users["member"].id,
                                              minutes=30)
    await socket.receive_type("member.muted")
    main = circle.main_group_id
    send = await socket.request({"type": "message.send", "group_id": main, "body": "let me talk"})
    edit = await socket.request({"type": "message.edit", "message_id": own_message, "body": "sneaky edit"})
    assert (_answer(send), _answer(edit)) == ("error muted", "error muted")
    # Still a member: events keep coming and history can be read.
    group = await sync(Group.objects.get)(id=main)
    await sync(chat_actions.do_send_message)(sender=users["owner"], group=group, body="read this")
    assert (await socket.receive_type("message.new"))["message"]["body"] == "read this"
    assert _answer(await socket.request({"type": "sync", "group_id": main, "after": 0})) == "sync"


async def test_a_mute_that_ends_needs_no_reconnect(people, sockets):
    circle, users, tokens, _own = people
    socket = await sockets(tokens["member"])

    def mute_then_let_it_lapse():
        circle_actions.do_mute_member(actor=users["owner"], circle=circle, user_id=users["member"].id, minutes=5)
        # The clock moves on: the mute is over although nobody unmuted.
        from quanzi.circles.models import Membership

        Membership.objects.filter(circle=circle, user=users["member"]).update(
            muted_until=timezone.now() - timedelta(seconds=1)
        )

    await sync(mute_then_let_it_lapse)()
    reply = await socket.request({"type": "message.send", "group_id": circle.main_group_id, "body": "back"})
    assert _answer(reply) == "message.ack"


async def test_demoted_moderator_stops_receiving_join_requests_at_once(people, sockets, make_user):
    circle, users, tokens, _own = people
    await sync(circle_actions.do_update_circle)(actor=users["owner"], circle=circle, join_mode=JoinMode.APPROVAL)
    socket = await sockets(tokens["moderator"])
    first, second = await sync(make_user)("applicant1"), await sync(make_user)("applicant2")
    await sync(circle_actions.do_join_circle)(user=first, circle=circle)
    assert (await socket.receive_type("join_request.created"))["user_id"] == first.id

    await sync(circle_actions.do_set_role)(actor=users["owner"], circle=circle, user_id=users["moderator"].id,
                                           role="member")
    await socket.receive_type("member.role_changed")
    await sync(circle_actions.do_join_circle)(user=second, circle=await sync(Circle.objects.get)(id=circle.id))
    assert [f["type"] for f in await socket.drain()] == []


async def test_revoking_the_token_closes_the_socket_opened_with_it(people, sockets):
    circle, users, tokens, _own = people
    socket = await sockets(tokens["member"])

    def revoke():
        from quanzi.accounts.models import ApiToken

        token = ApiToken.objects.get(user=users["member"], revoked_at__isnull=True)
        account_actions.do_revoke_token(user=users["member"], token_id=token.id)

    await sync(revoke)()
    # The revocation travels like any event (in-process, or through Redis); the close follows it at once.
    closed = None
    while closed is None:
        output = await socket.comm.receive_output(timeout=3)
        if output["type"] == "websocket.close":
            closed = output
    assert closed == {"type": "websocket.close", "code": CLOSE_NOT_AUTHENTICATED}
    # Frames that still arrive on the closing socket are ignored.
    await socket.comm.send_to(text_data=json.dumps({"type": "message.send", "group_id": circle.main_group_id,
                                                     "body": "still here?"}))
    assert await socket.comm.receive_nothing(timeout=0.3)
    assert await sync(Message.objects.filter(body="still here?").count)() == 0


# --- handshakes from foreign origins --------------------------------------------------------------------------------
# tests/realtime covers https://evil.example with a cookie and with a token; these are the look-alikes.


@pytest.mark.parametrize(
    "origin",
    [
        b"http://localhost.evil.example",
        b"http://evil-localhost",
        b"http://evil.example/http://localhost",
        b"http://localhost@evil.example",
        b"null",
        b"",
    ],
)
async def test_look_alike_origins_are_refused_even_with_a_valid_token(people, stop_hub, origin):
    _circle, _users, tokens, _own = people
    connected, communicator = await handshake(f"/ws/?token={tokens['member']}", origin=(b"origin", origin))
    assert not connected


async def test_allowed_origin_with_a_valid_token_connects(people, sockets):
    """The control for the test above: the same token from our own origin gets a ready socket."""
    _circle, _users, tokens, _own = people
    socket = await sockets(tokens["member"])
    assert (await socket.request({"type": "ping"}))["type"] == "pong"
