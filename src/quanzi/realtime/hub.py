"""The process-local hub: which open sockets receive which events, and the fan-out loop.

Why not Channels' ``group_send``: it sends one channel-layer message per member (one
task and one deep copy each), which measured ~40x slower than a plain loop over the
sockets (docs/performance.md). Instead every process keeps a registry

    key → set of local connections

with keys ``u:<user>`` (a person's sockets), ``c:<circle>`` (circle members),
``c:<circle>:m`` (moderators and up) and ``c:<circle>:g:<group>`` (group seats). All
circle-scoped keys share the ``c:<circle>`` prefix, so dropping a kicked member's socket
from a circle also drops it from every group of that circle in one pass.

An event arrives once per process — straight from the publishing thread in embedded
mode, or from the one Redis pub/sub subscriber task per process — already serialised
to JSON text, together with a small route: which keys receive it and which
subscription changes to apply before (joins) or after (kicks, bans, leaves) delivery.
Only the event loop thread touches the registry.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable
from typing import Any, Protocol

from django.conf import settings

from quanzi.accounts.credentials import credential_matches

try:
    from websockets.protocol import State as _WebSocketState

    _OPEN: Any = _WebSocketState.OPEN
except ImportError:  # no websockets: uvicorn cannot be using its sans-I/O protocol either
    _OPEN = object()

logger = logging.getLogger(__name__)

# A socket whose client does not read stops receiving after this many undelivered
# frames and is closed: the client reconnects and fetches what it missed, instead of
# the server buffering without bound (Zulip drops slow event queues the same way).
MAX_BACKLOG = 1000
# Close code for "you fell too far behind; reconnect and sync".
CLOSE_TOO_SLOW = 4008
CLOSE_CREDENTIAL_REVOKED = 4401  # the token was revoked or the session logged out
# Close code when delivery between processes was interrupted (Redis reconnect):
# subscriptions may be stale, so clients reconnect and rebuild them from the database.
CLOSE_SERVICE_RESTART = 1012

Route = dict[str, Any]
Op = list[Any]


class HubUnavailable(Exception):
    """Events cannot reach this process right now (Redis down): refuse new sockets."""


class Subscriptions(Protocol):
    """What a connection starts with: its active circles (with moderator flag) and group seats."""

    circles: dict[int, bool]
    groups: list[tuple[int, int]]


def text_frame(data: bytes) -> bytes:
    """A complete, unmasked, uncompressed WebSocket text frame (RFC 6455 §5.2): what a server
    sends for a message, identical for every socket that did not negotiate compression."""
    n = len(data)
    if n < 126:
        header = bytes((0x81, n))
    elif n < 65536:
        header = bytes((0x81, 126)) + n.to_bytes(2, "big")
    else:
        header = bytes((0x81, 127)) + n.to_bytes(8, "big")
    return header + data


class Outgoing:
    """One event on its way to many sockets, encoded once for all of them."""

    __slots__ = ("data", "frame", "message")

    def __init__(self, text: str) -> None:
        self.message = {"type": "websocket.send", "text": text}  # the ASGI event
        self.data = text.encode()  # its UTF-8 payload
        self.frame = text_frame(self.data)  # the whole frame on the wire


def direct_writer(send: Any) -> Any | None:
    """uvicorn's sans-I/O WebSocket protocol behind an ASGI ``send``, when that is what serves us.

    Its ``send`` for a text frame is synchronous work (frame it with ``websockets``,
    write the bytes to the transport) behind a coroutine and a writable-wait. The hub
    does that work itself — as ``websockets.broadcast`` does — and, when the socket
    negotiated no compression, writes one frame built once per event. Any other
    server, or a uvicorn whose protocol no longer looks like this, uses the ASGI path.
    """
    proto = getattr(send, "__self__", None)
    if proto is None or type(proto).__name__ != "WebSocketsSansIOProtocol":
        return None
    if not type(proto).__module__.startswith("uvicorn."):
        return None
    needed = ("conn", "transport", "writable", "handshake_complete", "close_sent", "disconnected",
              "initial_response")
    if not all(hasattr(proto, name) for name in needed):
        return None
    conn = proto.conn
    if not all(hasattr(conn, name) for name in ("state", "extensions", "expect_continuation_frame", "send_text",
                                                 "data_to_send")):
        return None
    return proto


class HubConnection:
    """Mixin for the consumer: the state the hub keeps per socket, and how frames leave.

    Frames for a socket are collected during one event-loop tick and written together
    when the tick ends (``flush``): one ``write`` per socket per tick, however many
    events arrived in it. Under light load that is one event per write, as before;
    under a burst it saves most of the system calls, which are the bulk of the cost.

    A writable uvicorn socket gets the bytes directly (see :func:`direct_writer`);
    anything else gets the ASGI send, started eagerly so that it completes at once on a
    writable socket. Only when a client's TCP buffer is full does a send wait; later
    frames queue behind it in order, up to ``MAX_BACKLOG``, then the socket is closed.
    """

    hub_loop: asyncio.AbstractEventLoop
    hub_keys: set[str]
    hub_pending: list[Op] | None
    hub_backlog: int
    hub_overflowed: bool
    hub_writer: Any
    hub_outbox: list[Outgoing] | None
    hub_credential: str | None = None
    base_send: Any

    def hub_init(self) -> None:
        self.hub_loop = asyncio.get_running_loop()
        self.hub_keys = set()
        self.hub_pending = None
        self.hub_backlog = 0
        self.hub_overflowed = False
        self.hub_outbox = None
        self.hub_writer = direct_writer(self.base_send)

    def _hub_writable(self) -> bool:
        writer = self.hub_writer
        return (
            writer is not None
            and not self.hub_backlog
            and writer.writable.is_set()
            and writer.handshake_complete
            and not writer.close_sent
            and not writer.disconnected
            and writer.initial_response is None
            and writer.conn.state is _OPEN
            and not writer.conn.expect_continuation_frame
        )

    def flush(self) -> None:
        """Write the frames collected this tick (called by the hub at the end of the tick)."""
        box, self.hub_outbox = self.hub_outbox, None
        if not box or self.hub_overflowed:
            return
        if self._hub_writable():
            writer = self.hub_writer
            conn = writer.conn
            if conn.extensions:  # per-message compression: websockets frames each one
                for out in box:
                    conn.send_text(out.data)
                writer.transport.write(b"".join(conn.data_to_send()))
            elif len(box) == 1:
                writer.transport.write(box[0].frame)
            else:
                writer.transport.write(b"".join([out.frame for out in box]))
            return
        for out in box:
            self._send_asgi(out)

    def _send_asgi(self, out: Outgoing) -> None:
        if self.hub_overflowed:
            return
        if self.hub_backlog >= MAX_BACKLOG:
            self.hub_overflowed = True
            self.hub_loop.create_task(self.hub_close(CLOSE_TOO_SLOW))
            return
        task = asyncio.Task(self.base_send(out.message), loop=self.hub_loop, eager_start=True)
        if task.done():
            if not task.cancelled() and task.exception() is not None:
                # The client is gone; its disconnect event cleans up the registry.
                self.hub_overflowed = True
            return
        self.hub_backlog += 1
        task.add_done_callback(self._hub_sent)

    def _hub_sent(self, task: asyncio.Task) -> None:
        self.hub_backlog -= 1
        if not task.cancelled() and task.exception() is not None:
            self.hub_overflowed = True

    async def hub_close(self, code: int) -> None:
        try:
            await self.base_send({"type": "websocket.close", "code": code})
        except Exception:  # already gone
            logger.debug("close of a dead socket failed", exc_info=True)


def circle_key(circle_id: int) -> str:
    return f"c:{circle_id}"


def mods_key(circle_id: int) -> str:
    return f"c:{circle_id}:m"


def group_key(circle_id: int, group_id: int) -> str:
    return f"c:{circle_id}:g:{group_id}"


def user_key(user_id: int) -> str:
    return f"u:{user_id}"


def encode_envelope(route: Route, text: str) -> bytes:
    """One Redis message per event: the route on the first line, the client JSON after it."""
    return (json.dumps(route, separators=(",", ":")) + "\n" + text).encode()


def decode_envelope(data: bytes) -> tuple[Route, str]:
    head, _sep, body = data.partition(b"\n")
    return json.loads(head), body.decode()


class Hub:
    """The registry and fan-out of one process (one event loop)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.subscribers: dict[str, set[HubConnection]] = {}
        self.connections: set[HubConnection] = set()
        self.pending: set[HubConnection] = set()
        self._listener: asyncio.Task | None = None
        self._ready: asyncio.Event | None = None
        self._dirty: list[HubConnection] = []  # sockets with frames collected this tick

    # --- registry -------------------------------------------------------------------------

    def _add(self, conn: HubConnection, key: str) -> None:
        members = self.subscribers.get(key)
        if members is None:
            members = self.subscribers[key] = set()
        members.add(conn)
        conn.hub_keys.add(key)

    def _remove(self, conn: HubConnection, key: str) -> None:
        conn.hub_keys.discard(key)
        members = self.subscribers.get(key)
        if members is not None:
            members.discard(conn)
            if not members:
                del self.subscribers[key]

    def attach(self, conn: HubConnection, user_id: int) -> None:
        """Register a new socket under its user before its subscriptions are read.

        Subscription changes for this user that arrive while the database is read are
        buffered and replayed afterwards, so a join or kick committed in that window is
        never lost (replaying one that the snapshot already reflects is harmless).
        """
        conn.hub_pending = []
        self.connections.add(conn)
        self.pending.add(conn)
        self._add(conn, user_key(user_id))

    def activate(self, conn: HubConnection, subs: Subscriptions) -> None:
        """Apply the database snapshot, then the changes buffered while it was read."""
        if conn not in self.connections:
            return
        for circle_id, is_mod in subs.circles.items():
            self._add(conn, circle_key(circle_id))
            if is_mod:
                self._add(conn, mods_key(circle_id))
        for circle_id, group_id in subs.groups:
            if circle_id in subs.circles:
                self._add(conn, group_key(circle_id, group_id))
        buffered, conn.hub_pending = conn.hub_pending or [], None
        self.pending.discard(conn)
        for op in buffered:
            self._apply_to(conn, op)

    def detach(self, conn: HubConnection) -> None:
        for key in list(conn.hub_keys):
            self._remove(conn, key)
        self.connections.discard(conn)
        self.pending.discard(conn)

    # --- subscription changes -------------------------------------------------------------

    def _apply(self, op: Op) -> None:
        if op[0] == "cgjoin":  # a new group every circle member sits in (the channel)
            circle_id, group_id = op[1], op[2]
            for conn in tuple(self.subscribers.get(circle_key(circle_id), ())):
                self._add(conn, group_key(circle_id, group_id))
            for conn in self.pending:
                conn.hub_pending.append(op)
            return
        for conn in tuple(self.subscribers.get(user_key(op[1]), ())):
            if conn.hub_pending is not None:
                conn.hub_pending.append(op)
            else:
                self._apply_to(conn, op)

    def _apply_to(self, conn: HubConnection, op: Op) -> None:
        kind = op[0]
        if kind == "join":
            _kind, _user, circle_id, group_ids, is_mod = op
            self._add(conn, circle_key(circle_id))
            for group_id in group_ids:
                self._add(conn, group_key(circle_id, group_id))
            if is_mod:
                self._add(conn, mods_key(circle_id))
            else:
                self._remove(conn, mods_key(circle_id))
        elif kind == "leave":
            circle = circle_key(op[2])
            prefix = circle + ":"
            for key in [k for k in conn.hub_keys if k == circle or k.startswith(prefix)]:
                self._remove(conn, key)
        elif kind == "gjoin":
            _kind, _user, circle_id, group_id = op
            if circle_key(circle_id) in conn.hub_keys:
                self._add(conn, group_key(circle_id, group_id))
        elif kind == "gleave":
            self._remove(conn, group_key(op[2], op[3]))
        elif kind == "role":
            _kind, _user, circle_id, is_mod = op
            if circle_key(circle_id) in conn.hub_keys:
                if is_mod:
                    self._add(conn, mods_key(circle_id))
                else:
                    self._remove(conn, mods_key(circle_id))
        elif kind == "cgjoin":
            if circle_key(op[1]) in conn.hub_keys:
                self._add(conn, group_key(op[1], op[2]))
        elif kind == "revoke":  # the token or session this socket was opened with is gone
            if credential_matches(conn.hub_credential, op[2]):
                for key in list(conn.hub_keys):
                    self._remove(conn, key)
                conn.hub_overflowed = True  # nothing more goes out; the close follows
                self.loop.create_task(conn.hub_close(CLOSE_CREDENTIAL_REVOKED))
        else:
            logger.warning("unknown subscription change %r", kind)

    # --- delivery -------------------------------------------------------------------------

    def deliver(self, route: Route, text: str) -> None:
        """Subscribe-before-deliver for joins, deliver, then unsubscribe for removals."""
        try:
            for op in route.get("pre") or ():
                self._apply(op)
            keys = route.get("to") or ()
            if len(keys) == 1:
                members = self.subscribers.get(keys[0])
                targets: Iterable[HubConnection] = tuple(members) if members else ()
            else:
                targets = dict.fromkeys(c for key in keys for c in self.subscribers.get(key, ()))
            if targets:
                out = Outgoing(text)
                dirty = self._dirty
                if not dirty:
                    self.loop.call_soon(self._flush)
                for conn in targets:
                    box = conn.hub_outbox
                    if box is None:
                        if conn.hub_overflowed:
                            continue
                        conn.hub_outbox = [out]
                        dirty.append(conn)
                    else:
                        box.append(out)
            for op in route.get("post") or ():
                self._apply(op)
        except Exception:
            logger.exception("delivery of %r failed", route)

    def _flush(self) -> None:
        dirty, self._dirty = self._dirty, []
        for conn in dirty:
            try:
                conn.flush()
            except Exception:  # one broken socket must not stop the others
                logger.exception("writing to a socket failed")

    def deliver_envelope(self, data: bytes) -> None:
        try:
            route, text = decode_envelope(data)
        except (ValueError, UnicodeDecodeError):
            logger.warning("dropping a malformed real-time envelope")
            return
        self.deliver(route, text)

    def close_all(self, code: int) -> None:
        for conn in tuple(self.connections):
            conn.hub_overflowed = True  # nothing more goes out; the close follows
            self.loop.create_task(conn.hub_close(code))

    # --- Redis: one subscriber task per process ------------------------------------------

    async def ensure_listening(self, timeout: float = 5.0) -> None:
        """With Redis, start the process's subscriber on first use and wait until subscribed.

        Sockets are registered only after this, so no event published after their
        subscriptions were read can slip past this process.
        """
        if not settings.HAS_REDIS:
            return
        if self._listener is None or self._listener.done():
            self._ready = asyncio.Event()
            self._listener = self.loop.create_task(self._listen(), name="quanzi-realtime-redis")
        if not self._ready.is_set():
            try:
                await asyncio.wait_for(self._ready.wait(), timeout)
            except TimeoutError:
                raise HubUnavailable("the real-time bus (Redis) is not reachable")

    async def _listen(self) -> None:
        import redis.asyncio as aioredis

        channel = settings.REALTIME_CHANNEL
        delay = 0.5
        while True:
            client = aioredis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=3)
            pubsub = client.pubsub()
            try:
                await pubsub.subscribe(channel)
                async for item in pubsub.listen():
                    kind = item.get("type")
                    if kind == "message":
                        self.deliver_envelope(item["data"])
                    elif kind == "subscribe":
                        self._ready.set()
                        delay = 0.5
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("real-time Redis subscriber lost its connection: %s", exc)
            finally:
                was_ready = self._ready.is_set()
                self._ready.clear()
                try:
                    await pubsub.aclose()
                    await client.aclose()
                except Exception:
                    logger.debug("closing the Redis subscriber failed", exc_info=True)
                if was_ready:
                    # Events may have been missed: make every client reconnect and resync.
                    self.close_all(CLOSE_SERVICE_RESTART)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)

    async def close(self) -> None:
        """Stop the subscriber (tests; server shutdown simply ends the loop)."""
        task, self._listener = self._listener, None
        if task is not None:
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):
                logger.debug("the Redis subscriber stopped")


_current: Hub | None = None


def get_hub() -> Hub:
    """The hub of the running event loop (a new loop — e.g. a new test — gets a new hub)."""
    global _current
    loop = asyncio.get_running_loop()
    hub = _current
    if hub is None or hub.loop is not loop:
        hub = _current = Hub(loop)
    return hub


def current_hub() -> Hub | None:
    """The hub, if this process runs one, for threads that publish events."""
    return _current


def deliver_threadsafe(route: Route, text: str) -> bool:
    """Hand an event to this process's hub from any thread; False when there is none."""
    hub = _current
    if hub is None or hub.loop.is_closed():
        return False
    try:
        hub.loop.call_soon_threadsafe(hub.deliver, route, text)
    except RuntimeError:  # the loop closed meanwhile
        return False
    return True
