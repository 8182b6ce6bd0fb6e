"""Two uvicorn processes, one PostgreSQL database, one Redis: events cross between processes.

A message sent over a socket of server A reaches a member connected to server B, and a
kick committed in a third process unsubscribes the member's socket on B at once.
Needs PostgreSQL and Redis (the second pass of ``make test`` and CI set both).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import pytest

DATABASE_URL = os.environ.get("QUANZI_DATABASE_URL", "")
REDIS_URL = os.environ.get("QUANZI_REDIS_URL", "")

pytestmark = [
    pytest.mark.skipif(
        not DATABASE_URL.startswith(("postgres://", "postgresql://")) or not REDIS_URL,
        reason="scale-out test needs QUANZI_DATABASE_URL (PostgreSQL) and QUANZI_REDIS_URL",
    ),
    pytest.mark.timeout(180),
]

PY = sys.executable
HOST = "127.0.0.1"

SETUP = """
import json, django
django.setup()
from quanzi.accounts.actions import do_create_token
from quanzi.accounts.models import User
from quanzi.circles.actions import do_create_circle, do_join_circle
owner = User.objects.create_user("owner", "owner@example.com")
member = User.objects.create_user("member", "member@example.com")
bystander = User.objects.create_user("bystander", "bystander@example.com")
circle = do_create_circle(owner=owner, name="Scale out", slug="scale-out")
do_join_circle(user=member, circle=circle)
do_join_circle(user=bystander, circle=circle)
print(json.dumps({
    "group_id": circle.main_group_id,
    "circle_id": circle.id,
    "member_id": member.id,
    "owner": do_create_token(user=owner, name="a")[1],
    "member": do_create_token(user=member, name="b")[1],
    "bystander": do_create_token(user=bystander, name="c")[1],
}))
"""

KICK = """
import django, sys
django.setup()
from quanzi.accounts.models import User
from quanzi.circles.actions import do_kick_member
from quanzi.circles.models import Circle
do_kick_member(actor=User.objects.get(username="owner"), circle=Circle.objects.get(slug="scale-out"),
               user_id=int(sys.argv[1]), reason="scale-out test")
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def run_django(code: str, env: dict, *args: str) -> str:
    done = subprocess.run([PY, "-c", code, *args], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.fixture
def fresh_database():
    import psycopg

    name = f"quanzi_scaleout_{os.getpid()}_{secrets.token_hex(3)}"
    parsed = urlparse(DATABASE_URL)
    admin = psycopg.connect(urlunparse(parsed._replace(path="/postgres")), autocommit=True, connect_timeout=5)
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunparse(parsed._replace(path="/" + name))
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def server_env(fresh_database):
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUANZI_")}
    with tempfile.TemporaryDirectory(prefix="quanzi-scaleout-") as data_dir:
        env.update(
            DJANGO_SETTINGS_MODULE="quanzi.settings",
            QUANZI_DATABASE_URL=fresh_database,
            QUANZI_REDIS_URL=REDIS_URL,
            QUANZI_REDIS_PREFIX=f"quanzi-scaleout-{secrets.token_hex(4)}",
            QUANZI_SECRET_KEY=secrets.token_urlsafe(40),
            QUANZI_ALLOWED_HOSTS="127.0.0.1,localhost",
            QUANZI_HTTPS="0",
            QUANZI_DATA_DIR=data_dir,
        )
        migrate = subprocess.run(
            [PY, "-m", "django", "migrate", "--settings=quanzi.settings", "--no-input", "-v", "0"],
            env=env, capture_output=True, text=True, timeout=120,
        )
        assert migrate.returncode == 0, migrate.stderr[-3000:]
        yield env


@pytest.fixture
def two_servers(server_env, tmp_path):
    servers: list[tuple[subprocess.Popen, int, Path]] = []
    try:
        for name in ("a", "b"):
            port = free_port()
            log = tmp_path / f"server-{name}.log"
            with open(log, "wb") as out:
                proc = subprocess.Popen(
                    [PY, "-m", "uvicorn", "quanzi.asgi:application", "--host", HOST, "--port", str(port),
                     "--log-level", "warning", "--lifespan", "off"],
                    env=server_env, stdout=out, stderr=subprocess.STDOUT,
                )
            servers.append((proc, port, log))
        for proc, port, log in servers:
            wait_listening(proc, port, log)
        yield [port for _proc, port, _log in servers]
    finally:
        for proc, _port, _log in servers:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=5)


def wait_listening(proc: subprocess.Popen, port: int, log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"server exited:\n{log.read_text(errors='replace')[-3000:]}"
        try:
            with socket.create_connection((HOST, port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"server on port {port} did not start:\n{log.read_text(errors='replace')[-3000:]}")


async def next_of_type(ws, kind: str, timeout: float = 5.0) -> dict:
    async with asyncio.timeout(timeout):
        while True:
            frame = json.loads(await ws.recv())
            if frame.get("type") == kind:
                return frame


async def nothing_of_type(ws, kind: str, within: float) -> bool:
    try:
        await next_of_type(ws, kind, within)
    except TimeoutError:
        return True
    return False


async def test_events_cross_between_server_processes(two_servers, server_env):
    from websockets.asyncio.client import connect

    port_a, port_b = two_servers
    ids = json.loads(run_django(SETUP, server_env).strip().splitlines()[-1])

    def url(port: int, who: str) -> str:
        return f"ws://{HOST}:{port}/ws/?token={ids[who]}"

    async with (
        connect(url(port_a, "owner"), open_timeout=10) as sender,
        connect(url(port_b, "member"), open_timeout=10) as member_on_b,
        connect(url(port_b, "bystander"), open_timeout=10) as bystander_on_b,
    ):
        for ws in (sender, member_on_b, bystander_on_b):
            assert (await next_of_type(ws, "ready"))["type"] == "ready"

        await sender.send(json.dumps(
            {"type": "message.send", "group_id": ids["group_id"], "body": "across processes", "ref": "r1"}
        ))
        ack = await next_of_type(sender, "message.ack")
        assert ack["ref"] == "r1"
        event = await next_of_type(member_on_b, "message.new")
        assert event["message"]["id"] == ack["message"]["id"]
        assert event["message"]["body"] == "across processes"

        # A kick committed in a third process reaches B's socket, then B stops delivering to it.
        await asyncio.to_thread(run_django, KICK, server_env, str(ids["member_id"]))
        kicked = await next_of_type(member_on_b, "member.kicked")
        assert kicked["user_id"] == ids["member_id"]
        await sender.send(json.dumps(
            {"type": "message.send", "group_id": ids["group_id"], "body": "after the kick"}
        ))
        while (await next_of_type(bystander_on_b, "message.new"))["message"]["body"] != "after the kick":
            pass
        assert await nothing_of_type(member_on_b, "message.new", within=1.0)
