"""Helpers for WebSocket tests: connect with a token or a session cookie, read JSON frames."""

from __future__ import annotations

import json
import uuid

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from quanzi.accounts.actions import do_create_token
from quanzi.asgi import application
from quanzi.realtime import hub as hub_module

ORIGIN = (b"origin", b"http://localhost")


@pytest.fixture(autouse=True)
def private_realtime_channel(settings):
    """With Redis, each test talks on its own pub/sub channel, so parallel runs never cross."""
    settings.REALTIME_CHANNEL = f"quanzi-test-{uuid.uuid4().hex}:events"


@pytest.fixture
async def stop_hub():
    """Stop this test loop's Redis subscriber before the loop closes."""
    yield
    hub = hub_module.current_hub()
    if hub is not None and not hub.loop.is_closed():
        await hub.close()


@pytest.fixture
def token_for():
    def make(user) -> str:
        _token, raw = do_create_token(user=user, name="ws test")
        return raw

    return make


@pytest.fixture
def session_cookie_for():
    def make(user) -> bytes:
        client = Client()
        client.force_login(user)
        return f"sessionid={client.cookies['sessionid'].value}".encode()

    return make


class Socket:
    """A connected test client: JSON in and out, and the frames it skipped while waiting."""

    def __init__(self, communicator: WebsocketCommunicator) -> None:
        self.comm = communicator

    async def send(self, frame: dict) -> None:
        await self.comm.send_to(text_data=json.dumps(frame))

    async def receive(self, timeout: float = 3) -> dict:
        return await self.comm.receive_json_from(timeout=timeout)

    async def receive_type(self, kind: str, timeout: float = 3) -> dict:
        """The next frame of this type (frames of other types before it are skipped)."""
        while True:
            frame = await self.receive(timeout)
            if frame.get("type") == kind:
                return frame

    async def request(self, frame: dict, timeout: float = 5) -> dict:
        """Send a frame with a fresh ref and return the reply carrying that ref."""
        ref = uuid.uuid4().hex[:8]
        await self.send({**frame, "ref": ref})
        while True:
            reply = await self.receive(timeout)
            if reply.get("ref") == ref:
                return reply

    async def drain(self, quiet: float = 0.2) -> list[dict]:
        """Everything that arrives until the socket has been quiet for ``quiet`` seconds."""
        frames = []
        while not await self.comm.receive_nothing(timeout=quiet):
            frames.append(await self.receive())
        return frames

    async def close(self) -> None:
        await self.comm.disconnect()


async def open_socket(*, token: str | None = None, cookie: bytes | None = None, origin=ORIGIN,
                      bearer: bool = False) -> tuple[bool, object, WebsocketCommunicator]:
    path = "/ws/"
    headers = []
    if origin is not None:
        headers.append(origin)
    if cookie is not None:
        headers.append((b"cookie", cookie))
    if token is not None:
        if bearer:
            headers.append((b"authorization", f"Bearer {token}".encode()))
        else:
            path += f"?token={token}"
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, detail = await communicator.connect(timeout=5)
    return connected, detail, communicator


@pytest.fixture
def raw_socket(stop_hub):
    """``open_socket`` as a fixture (the handshake result, no waiting for ``ready``)."""
    return open_socket


@pytest.fixture
async def connect(stop_hub, token_for):
    """Connect as a user (token auth) and wait for the ``ready`` frame."""
    opened: list[Socket] = []

    async def make(user) -> Socket:
        raw = await database_sync_to_async(token_for)(user)
        connected, _detail, communicator = await open_socket(token=raw)
        assert connected
        socket = Socket(communicator)
        ready = await socket.receive()
        assert ready == {"type": "ready", "user_id": user.id}
        opened.append(socket)
        return socket

    yield make
    for socket in opened:
        try:
            await socket.close()
        except Exception:
            pass
