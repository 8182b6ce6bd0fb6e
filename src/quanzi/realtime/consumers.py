"""The one WebSocket per client: live events out, a few chat commands in.

Thin on purpose: authentication comes from the middleware, permissions from the
actions (``circles.rules``), delivery from the hub. Protocol (JSON text frames):

server → client
    ``{"type": "ready", "user_id": …}`` once subscriptions are in place (then ``sync``
    what you missed); every event as ``Event.client_dict()``; replies carrying the
    request's ``ref``: ``message.ack``, ``read.ack``, ``sync``, ``pong``, or
    ``{"type": "error", "code": …, "message": …}``.
client → server
    ``message.send`` (group_id, body, reply_to?, client_id?), ``message.edit``
    (message_id, body), ``message.delete`` (message_id, reason?), ``read`` (group_id,
    message_id), ``sync`` (group_id, after, limit?), ``ping``; each may carry a ``ref``.

Close codes: 4401 not authenticated (also when the socket's token is revoked or its
session logs out), 4008 too slow to keep up (reconnect and sync),
1011/1012 real-time bus unavailable / restarted.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.utils.translation import gettext as _

from quanzi.core.errors import QuanziError
from quanzi.core.text import contains_nul

from . import commands
from .hub import Hub, HubConnection, HubUnavailable, get_hub
from .selectors import subscriptions_for

logger = logging.getLogger(__name__)

MAX_FRAME_CHARS = 64 * 1024
MAX_IN_FLIGHT = 8  # requests of one socket being handled at once; then it stops reading
CLOSE_NOT_AUTHENTICATED = 4401
CLOSE_UNAVAILABLE = 1011


def _dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False, default=str)


class RealtimeConsumer(HubConnection, AsyncWebsocketConsumer):
    # Delivery goes through the hub, not a channel layer: naming an alias that is not
    # configured makes Channels skip the per-socket channel and its receive loop.
    channel_layer_alias = "quanzi-realtime-hub-no-channel-layer"

    hub: Hub | None = None

    async def connect(self) -> None:
        self.hub_init()
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.accept()
            await self.close(code=CLOSE_NOT_AUTHENTICATED)
            return
        self.user = user
        self.hub_credential = self.scope.get("quanzi_credential")
        self.in_flight = asyncio.Semaphore(MAX_IN_FLIGHT)
        self.tasks: set[asyncio.Task] = set()
        hub = get_hub()
        try:
            await hub.ensure_listening()
        except HubUnavailable:
            logger.warning("refusing a WebSocket: the real-time bus is unavailable")
            await self.accept()
            await self.close(code=CLOSE_UNAVAILABLE)
            return
        await self.accept()
        self.hub = hub
        hub.attach(self, user.id)
        try:
            subscriptions = await database_sync_to_async(subscriptions_for)(user.id)
        except Exception:
            logger.exception("could not read the subscriptions of user %s", user.id)
            hub.detach(self)
            self.hub = None
            await self.close(code=CLOSE_UNAVAILABLE)
            return
        hub.activate(self, subscriptions)
        await self.send(text_data=_dumps({"type": "ready", "user_id": user.id}))

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Channels' dispatch minus its per-frame ``close_old_connections`` thread hop: every
        database access here goes through ``database_sync_to_async``, which does that itself."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def disconnect(self, code: int) -> None:
        if self.hub is not None:
            self.hub.detach(self)
            self.hub = None

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.hub is None or self.hub_overflowed:  # refused or closing: frames before the close are ignored
            return
        ref = None
        try:
            frame = self._parse(text_data)
            ref = frame.get("ref")
            if ref is not None and not (
                (isinstance(ref, str) and len(ref) <= 100) or (isinstance(ref, int) and not isinstance(ref, bool))
            ):
                ref = None
                raise commands.BadFrame(_("“ref” must be a short string or an integer."))
            if contains_nul(frame):  # PostgreSQL can't store it; refuse it like the HTTP side does
                raise commands.BadFrame(_("Text may not contain NUL characters."), code="invalid_text")
            kind = frame.get("type")
            if kind == "ping":
                await self._reply({"type": "pong"}, ref)
                return
            handler = commands.HANDLERS.get(kind) if isinstance(kind, str) else None
            if handler is None:
                raise commands.BadFrame(_("Unknown frame type."))
        except QuanziError as error:
            await self._reply({"type": "error", **error.as_dict()}, ref)
            return
        # The database work runs while this socket reads its next frame (a few at a time).
        # All of it goes through one thread in arrival order, so acks keep the order of
        # the requests; only pongs and frame errors, which need no database, may overtake.
        await self.in_flight.acquire()
        task = asyncio.get_running_loop().create_task(self._run(handler, frame, ref))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _run(self, handler, frame: dict[str, Any], ref) -> None:
        try:
            reply = await database_sync_to_async(handler)(self.user, frame)
        except QuanziError as error:
            reply = {"type": "error", **error.as_dict()}
        except Exception:
            logger.exception("WebSocket frame failed")
            reply = {"type": "error", "code": "server_error", "message": _("Something went wrong on our side.")}
        finally:
            self.in_flight.release()
        await self._reply(reply, ref)

    async def _reply(self, reply: dict[str, Any], ref) -> None:
        if ref is not None:
            reply["ref"] = ref
        try:
            await self.send(text_data=_dumps(reply))
        except Exception:  # the client left while its request was being handled
            logger.debug("reply to a closed socket dropped", exc_info=True)

    def _parse(self, text_data: str | None) -> dict[str, Any]:
        if text_data is None:
            raise commands.BadFrame(_("Send JSON text frames."))
        if len(text_data) > MAX_FRAME_CHARS:
            raise commands.BadFrame(_("The frame is too large."), code="too_large")
        try:
            frame = json.loads(text_data)
        except ValueError:
            raise commands.BadFrame(_("The frame is not valid JSON."))
        if not isinstance(frame, dict):
            raise commands.BadFrame(_("The frame must be a JSON object."))
        return frame
