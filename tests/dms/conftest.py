"""Fixtures for direct-message tests: a second plain member and a helper to change the DM policy."""

from __future__ import annotations

import json
import uuid

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.core.cache import cache
from django.utils import timezone, translation

from quanzi.accounts.actions import do_create_token
from quanzi.asgi import application
from quanzi.circles import actions as circle_actions
from quanzi.circles.models import Circle
from quanzi.realtime import hub as hub_module


@pytest.fixture(autouse=True)
def _private_cache(settings, request):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": request.node.nodeid}
    }
    cache.clear()


@pytest.fixture(autouse=True)
def _english():
    """Messages are compared in English; an earlier test may have left another language active."""
    with translation.override("en"):
        yield
    translation.deactivate()
    timezone.deactivate()


@pytest.fixture
def circle(circle, owner):
    """The shared circle, where members may start DMs at once: the moderation app makes newcomers wait
    (trust levels, ``newcomer_link_hours``) before starting DMs with plain members; here the wait is
    0 hours. ``test_newcomers_wait_to_start_dms`` covers the wait with the default policy."""
    from quanzi.moderation import actions as moderation_actions

    # Nor do these tests exercise flood or duplicate detection (which could mute a busy test sender).
    moderation_actions.do_update_policy(actor=owner, circle=circle, newcomer_link_hours=0, flood_messages=0,
                                        duplicate_groups=0)
    return circle


@pytest.fixture
def member2(circle, make_user):
    user = make_user("member2")
    circle_actions.do_join_circle(user=user, circle=circle)
    return user


@pytest.fixture
def set_policy(circle, owner):
    def run(policy: str) -> Circle:
        return circle_actions.do_update_circle(actor=owner, circle=circle, dm_policy=policy)

    return run


# --- WebSocket helpers (as tests/realtime/conftest.py) ----------------------------------------------------


@pytest.fixture
def private_realtime_channel(settings):
    """With Redis, each test talks on its own pub/sub channel, so parallel runs never cross."""
    settings.REALTIME_CHANNEL = f"quanzi-test-{uuid.uuid4().hex}:events"


class Socket:
    def __init__(self, communicator: WebsocketCommunicator) -> None:
        self.comm = communicator

    async def receive(self, timeout: float = 3) -> dict:
        return await self.comm.receive_json_from(timeout=timeout)

    async def receive_type(self, kind: str, timeout: float = 3) -> dict:
        while True:
            frame = await self.receive(timeout)
            if frame.get("type") == kind:
                return frame

    async def request(self, frame: dict, timeout: float = 5) -> dict:
        ref = uuid.uuid4().hex[:8]
        await self.comm.send_to(text_data=json.dumps({**frame, "ref": ref}))
        while True:
            reply = await self.receive(timeout)
            if reply.get("ref") == ref:
                return reply

    async def drain(self, quiet: float = 0.3) -> list[dict]:
        frames = []
        while not await self.comm.receive_nothing(timeout=quiet):
            frames.append(await self.receive())
        return frames


@pytest.fixture
async def connect(private_realtime_channel):
    opened: list[Socket] = []

    async def make(user) -> Socket:
        def token() -> str:
            return do_create_token(user=user, name="ws test")[1]

        raw = await database_sync_to_async(token)()
        communicator = WebsocketCommunicator(application, f"/ws/?token={raw}",
                                             headers=[(b"origin", b"http://localhost")])
        connected, _detail = await communicator.connect(timeout=5)
        assert connected
        socket = Socket(communicator)
        assert await socket.receive() == {"type": "ready", "user_id": user.id}
        opened.append(socket)
        return socket

    yield make
    for socket in opened:
        try:
            await socket.comm.disconnect()
        except Exception:
            pass
    hub = hub_module.current_hub()
    if hub is not None and not hub.loop.is_closed():
        await hub.close()
