"""The hub on its own: registry, routing of subscription changes, slow sockets, frames, Redis."""

from __future__ import annotations

import asyncio
import json

import pytest
from django.conf import settings
from websockets.frames import Frame, Opcode

from quanzi.core.events import Event, EventType
from quanzi.realtime import hub as hub_module
from quanzi.realtime.audience import audience_for
from quanzi.realtime.hub import (
    CLOSE_TOO_SLOW,
    MAX_BACKLOG,
    Hub,
    HubConnection,
    Outgoing,
    decode_envelope,
    direct_writer,
    encode_envelope,
    text_frame,
)
from quanzi.realtime.selectors import Subscriptions


class FakeSocket(HubConnection):
    """A connection whose ASGI send records frames, and can be made to block like a full TCP buffer."""

    def __init__(self) -> None:
        self.sent: list[dict] = []
        self.gate: asyncio.Event | None = None
        self.base_send = self._send
        self.hub_init()

    async def _send(self, message: dict) -> None:
        if self.gate is not None:
            await self.gate.wait()
        self.sent.append(message)

    @property
    def texts(self) -> list[str]:
        return [m["text"] for m in self.sent if m["type"] == "websocket.send"]


async def tick() -> None:
    """Let the hub write what it collected this loop tick."""
    await asyncio.sleep(0)


def subs(circles: dict[int, bool], groups: list[tuple[int, int]] = ()) -> Subscriptions:
    return Subscriptions(circles=dict(circles), groups=list(groups))


async def connected(hub: Hub, user_id: int, snapshot: Subscriptions) -> FakeSocket:
    sock = FakeSocket()
    hub.attach(sock, user_id)
    hub.activate(sock, snapshot)
    return sock


async def test_group_event_reaches_seated_sockets_only():
    hub = Hub(asyncio.get_running_loop())
    seated = await connected(hub, 1, subs({10: False}, [(10, 100)]))
    other_group = await connected(hub, 2, subs({10: False}, [(10, 101)]))
    other_circle = await connected(hub, 3, subs({11: False}, [(11, 100)]))
    hub.deliver({"to": ["c:10:g:100"]}, '{"type":"message.new"}')
    await tick()
    assert seated.texts == ['{"type":"message.new"}']
    assert other_group.texts == [] and other_circle.texts == []


async def test_multi_key_route_delivers_once_per_socket():
    hub = Hub(asyncio.get_running_loop())
    sock = await connected(hub, 1, subs({10: False}))
    hub.deliver({"to": ["c:10", "u:1"], "post": [["leave", 1, 10]]}, "kicked")
    hub.deliver({"to": ["c:10"]}, "after")
    await tick()
    assert sock.texts == ["kicked"]


async def test_leave_drops_circle_groups_and_moderator_keys_but_not_other_circles():
    hub = Hub(asyncio.get_running_loop())
    sock = await connected(hub, 1, subs({10: True, 11: False}, [(10, 100), (10, 101), (11, 110)]))
    hub.deliver({"to": ["c:10"], "post": [["leave", 1, 10]]}, "left")
    await tick()
    assert sock.hub_keys == {"u:1", "c:11", "c:11:g:110"}
    assert not any(key.startswith("c:10") for key in hub.subscribers)


async def test_changes_during_the_snapshot_read_are_replayed():
    hub = Hub(asyncio.get_running_loop())
    joined_late = FakeSocket()
    kicked_late = FakeSocket()
    hub.attach(joined_late, 1)
    hub.attach(kicked_late, 2)
    # Committed after the snapshots were read: a join for one user, a kick for the other.
    hub.deliver({"pre": [["join", 1, 10, [100], False]], "to": ["c:10"]}, "joined")
    hub.deliver({"to": ["c:10", "u:2"], "post": [["leave", 2, 10]]}, "kicked")
    hub.activate(joined_late, subs({}))  # stale: read before the join
    hub.activate(kicked_late, subs({10: False}, [(10, 100)]))  # stale: read before the kick
    hub.deliver({"to": ["c:10:g:100"]}, "message")
    await tick()
    assert "message" in joined_late.texts
    assert "message" not in kicked_late.texts
    assert kicked_late.hub_keys == {"u:2"}


async def test_new_channel_seats_every_circle_socket_and_role_changes_move_moderator_key():
    hub = Hub(asyncio.get_running_loop())
    member = await connected(hub, 1, subs({10: False}))
    outsider = await connected(hub, 2, subs({}))
    hub.deliver({"pre": [["cgjoin", 10, 105]], "to": ["c:10"]}, "channel")
    hub.deliver({"to": ["c:10:g:105"]}, "announcement")
    await tick()
    assert member.texts == ["channel", "announcement"] and outsider.texts == []
    hub.deliver({"pre": [["role", 1, 10, True]], "to": ["c:10"]}, "promoted")
    hub.deliver({"to": ["c:10:m"]}, "join request")
    hub.deliver({"pre": [["role", 1, 10, False]], "to": ["c:10"]}, "demoted")
    hub.deliver({"to": ["c:10:m"]}, "another request")
    await tick()
    assert member.texts == ["channel", "announcement", "promoted", "join request", "demoted"]


async def test_detach_forgets_the_socket():
    hub = Hub(asyncio.get_running_loop())
    sock = await connected(hub, 1, subs({10: False}, [(10, 100)]))
    hub.detach(sock)
    assert hub.subscribers == {} and hub.connections == set()
    hub.deliver({"to": ["u:1"]}, "x")
    await tick()
    assert sock.texts == []


async def test_a_blocked_socket_does_not_hold_up_others_and_is_closed_when_too_far_behind():
    hub = Hub(asyncio.get_running_loop())
    slow = await connected(hub, 1, subs({10: False}))
    fast = await connected(hub, 2, subs({10: False}))
    slow.gate = asyncio.Event()
    for i in range(MAX_BACKLOG + 5):
        hub.deliver({"to": ["c:10"]}, f"m{i}")
        await tick()
    assert len(fast.texts) == MAX_BACKLOG + 5  # never waited for the slow one
    assert slow.texts == [] and slow.hub_backlog == MAX_BACKLOG and slow.hub_overflowed
    slow.gate.set()
    for _ in range(200):
        if len(slow.sent) == MAX_BACKLOG + 1:
            break
        await asyncio.sleep(0.005)
    # The socket is closed (the client reconnects and syncs); what was queued before the
    # overflow keeps its order, and nothing after the overflow was queued at all.
    assert {"type": "websocket.close", "code": CLOSE_TOO_SLOW} in slow.sent
    assert slow.texts == [f"m{i}" for i in range(MAX_BACKLOG)]


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 70000])
def test_prebuilt_frame_matches_websockets(size):
    data = ("é" * size).encode()[:size]
    assert text_frame(data) == Frame(Opcode.TEXT, data).serialize(mask=False, extensions=[])


def test_outgoing_encodes_once():
    out = Outgoing('{"t":"你好"}')
    assert out.data == '{"t":"你好"}'.encode()
    assert out.frame.endswith(out.data) and out.message["text"] == '{"t":"你好"}'


async def test_direct_writer_only_for_uvicorn_sansio():
    async def plain_send(message):
        return None

    assert direct_writer(plain_send) is None
    assert direct_writer(FakeSocket()._send) is None


def test_envelope_round_trip_keeps_the_text_verbatim():
    route = {"to": ["c:1:g:2"], "pre": [["join", 3, 1, [2], False]]}
    text = '{"type":"message.new","body":"line\\nbreak 你好"}'
    assert decode_envelope(encode_envelope(route, text)) == (route, text)


def _event(kind: EventType, **kwargs) -> Event:
    return Event(type=kind, circle_id=kwargs.pop("circle_id", 10), **kwargs)


@pytest.mark.parametrize(
    ("event", "route"),
    [
        (_event(EventType.MESSAGE_NEW, group_id=100), {"to": ["c:10:g:100"]}),
        (_event(EventType.GROUP_UPDATED, group_id=100), {"to": ["c:10:g:100"]}),
        (_event(EventType.NOTICE_NEW, target_user_id=5), {"to": ["u:5"]}),
        (_event(EventType.MEMBER_MUTED, target_user_id=5), {"to": ["c:10"]}),
        (
            _event(EventType.MEMBER_KICKED, target_user_id=5),
            {"to": ["c:10", "u:5"], "post": [["leave", 5, 10]]},
        ),
        (
            _event(EventType.MEMBER_JOINED, target_user_id=5,
                   payload={"member": {"role": "member"}, "group_ids": [100, 101]}),
            {"pre": [["join", 5, 10, [100, 101], False]], "to": ["c:10"]},
        ),
        (
            _event(EventType.MEMBER_ROLE_CHANGED, target_user_id=5, payload={"role": "admin"}),
            {"pre": [["role", 5, 10, True]], "to": ["c:10"]},
        ),
        (_event(EventType.JOIN_REQUESTED, target_user_id=5), {"to": ["c:10:m", "u:5"]}),
        (_event(EventType.INVITE_CREATED), {"to": ["c:10:m"]}),
        (
            _event(EventType.GROUP_CREATED, group_id=101, actor_id=1, payload={"group": {"kind": "group"}}),
            {"pre": [["gjoin", 1, 10, 101]], "to": ["c:10"]},
        ),
        (
            _event(EventType.GROUP_CREATED, group_id=102, actor_id=1, payload={"group": {"kind": "channel"}}),
            {"pre": [["cgjoin", 10, 102]], "to": ["c:10"]},
        ),
        (
            _event(EventType.GROUP_MEMBER_LEFT, group_id=101, target_user_id=5),
            {"to": ["c:10:g:101", "u:5"], "post": [["gleave", 5, 10, 101]]},
        ),
        (_event(EventType.CIRCLE_CREATED, actor_id=1), {"to": ["u:1"]}),
    ],
)
def test_audience(event, route):
    assert audience_for(event) == route
    json.dumps(route)  # routes cross Redis as JSON


@pytest.mark.skipif(not settings.HAS_REDIS, reason="QUANZI_REDIS_URL is not set")
async def test_redis_subscriber_delivers_each_published_envelope_once(settings):
    import redis

    settings.REALTIME_CHANNEL = "quanzi-test-hub-redis:events"
    hub = Hub(asyncio.get_running_loop())
    try:
        await hub.ensure_listening()
        sock = await connected(hub, 1, subs({10: False}, [(10, 100)]))
        client = redis.Redis.from_url(settings.REDIS_URL)
        await asyncio.to_thread(
            client.publish, settings.REALTIME_CHANNEL, encode_envelope({"to": ["c:10:g:100"]}, '{"n":1}')
        )
        await asyncio.to_thread(client.publish, settings.REALTIME_CHANNEL, b"garbage without a route")
        for _ in range(100):
            if sock.texts:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.1)
        assert sock.texts == ['{"n":1}']
        client.close()
    finally:
        await hub.close()


def test_publishing_without_a_hub_is_a_no_op(monkeypatch):
    monkeypatch.setattr(hub_module, "_current", None)
    assert hub_module.deliver_threadsafe({"to": ["u:1"]}, "{}") is False


class FakeTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))


class FakeSansIOProtocol:
    """The attributes of uvicorn's sans-I/O protocol that the direct path reads."""

    def __init__(self, extensions=()) -> None:
        from websockets.protocol import State
        from websockets.server import ServerProtocol

        self.conn = ServerProtocol()
        self.conn.state = State.OPEN
        self.conn.extensions = list(extensions)
        self.transport = FakeTransport()
        self.writable = asyncio.Event()
        self.writable.set()
        self.handshake_complete = True
        self.close_sent = False
        self.disconnected = False
        self.initial_response = None


async def test_direct_path_writes_once_per_socket_per_tick():
    hub = Hub(asyncio.get_running_loop())
    sock = await connected(hub, 1, subs({10: False}))
    sock.hub_writer = FakeSansIOProtocol()
    hub.deliver({"to": ["c:10"]}, "one")
    hub.deliver({"to": ["u:1"]}, "two")
    await tick()
    hub.deliver({"to": ["c:10"]}, "three")
    await tick()
    assert sock.hub_writer.transport.writes == [text_frame(b"one") + text_frame(b"two"), text_frame(b"three")]
    assert sock.sent == []  # nothing went through the ASGI path


async def test_direct_path_falls_back_to_asgi_when_the_socket_is_not_writable():
    hub = Hub(asyncio.get_running_loop())
    sock = await connected(hub, 1, subs({10: False}))
    sock.hub_writer = FakeSansIOProtocol()
    sock.hub_writer.writable.clear()  # the client's TCP buffer is full
    hub.deliver({"to": ["c:10"]}, "queued")
    await tick()
    assert sock.hub_writer.transport.writes == [] and sock.texts == ["queued"]


async def test_direct_path_lets_websockets_compress_when_negotiated():
    from websockets.extensions.permessage_deflate import PerMessageDeflate

    hub = Hub(asyncio.get_running_loop())
    sock = await connected(hub, 1, subs({10: False}))
    sock.hub_writer = FakeSansIOProtocol(extensions=[PerMessageDeflate(False, False, 15, 15)])
    hub.deliver({"to": ["c:10"]}, "x" * 200)
    await tick()
    (written,) = sock.hub_writer.transport.writes
    assert written[0] & 0x40  # RSV1: a compressed frame, not the shared plain one
    assert len(written) < 100


def test_unreachable_redis_is_skipped_for_a_while(settings, monkeypatch):
    from quanzi.realtime import publish

    settings.HAS_REDIS = True
    calls = []

    class BrokenRedis:
        def publish(self, channel, data):
            calls.append(channel)
            raise ConnectionError("Redis is down")

    monkeypatch.setattr(publish, "_redis", BrokenRedis)
    monkeypatch.setattr(publish, "_redis_down_until", 0.0)
    event = Event(type=EventType.NOTICE_NEW, circle_id=1, target_user_id=2)
    publish.publish_event(event)  # fails, logged, not raised: the action already committed
    publish.publish_event(event)  # skipped without waiting for another timeout
    assert len(calls) == 1
