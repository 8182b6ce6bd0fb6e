"""The feed page's event-loop lane (api/asyncfeed.py) against the usual path, on SQLite and PostgreSQL.

A page the lane answers must be the usual path's answer: same status, headers and JSON; anything it
is not sure of must be left to the usual path (the thread pool, the middleware, the fast lane).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from core.test_asgi_http import call, scope
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, connections
from django.utils import timezone

from quanzi.accounts import actions as account_actions
from quanzi.accounts.models import ApiToken
from quanzi.api import asyncfeed, fastfeed
from quanzi.circles.models import Membership
from quanzi.core.asgi_http import PooledASGIHandler
from quanzi.feed import actions

pytestmark = pytest.mark.django_db(transaction=True)  # the lane reads on connections of its own


@pytest.fixture
def feed(circle, member, settings):
    settings.ALLOWED_HOSTS = ["testserver"]
    for i in range(45):
        actions.do_create_post(actor=member, circle=circle, body=f"post {i} 早起打卡", tags=["晨跑"] if i % 3 else [])
    _row, token = account_actions.do_create_token(user=member, name="lane")
    fastfeed._last_readers.clear()
    asyncfeed._seen_headers.clear()
    return circle.slug, token


@pytest.fixture
async def lanes(monkeypatch):
    """(handler with the event-loop lane, handler without it, the lane's answers so far)."""
    answered = []
    real = asyncfeed.prepare

    async def counting(scope_):
        result = await real(scope_)
        if result is not None:
            answered.append(scope_["query_string"])
        return result

    monkeypatch.setattr(asyncfeed, "prepare", counting)
    yield PooledASGIHandler(threads=2, early_lane=asyncfeed), PooledASGIHandler(threads=2), answered
    await asyncfeed.close_pool()
    await sync_to_async(connections.close_all)()  # the connection sync_to_async's thread opened


def _request(slug, token, cursor=None, extra=()):
    query = f"cursor={cursor}".encode() if cursor else b""
    return scope(f"/api/circles/{slug}/posts", query=query,
                 headers=[(b"authorization", f"Bearer {token}".encode()), *extra])


async def _both(early, plain, request):
    """The lane's answer and the usual path's to the same request, each as (status, headers, JSON)."""
    got = await call(early, request)
    usual = await call(plain, request)
    return (got[0], got[1], json.loads(got[2])), (usual[0], usual[1], json.loads(usual[2]))


async def test_a_tokens_later_pages_are_the_usual_answer(feed, lanes):
    slug, token = feed
    early, plain, answered = lanes
    status, _headers, body, _ = await call(early, _request(slug, token))  # first page: the usual path
    assert status == 200 and answered == []
    cursor, pages = json.loads(body)["next_cursor"], 1
    while cursor:
        got, usual = await _both(early, plain, _request(slug, token, cursor))
        assert got == usual  # status, every header (security headers, CSP, language, length) and the JSON
        pages += 1
        cursor = got[2]["next_cursor"]
    assert pages == 3 and len(answered) == 2
    assert got[1][b"Content-Language"] == b"en"


async def test_what_the_lane_leaves_to_the_usual_path(feed, lanes, member):
    slug, token = feed
    early, plain, answered = lanes
    first = json.loads((await call(early, _request(slug, token)))[2])
    cursor = first["next_cursor"]

    for extra in ([(b"accept-language", b"zh-hans")], [(b"cookie", b"django_language=zh-hans")]):
        got, usual = await _both(early, plain, _request(slug, token, cursor, extra))
        assert got == usual and answered == []  # the middleware's choice of language: not the lane's

    # Promoted since the last page: the rows read for the old reader are not used.
    await sync_to_async(Membership.objects.filter(user=member).update)(role="moderator")
    got, usual = await _both(early, plain, _request(slug, token, cursor))
    assert got == usual and answered == []
    assert all(item["can_delete"] for item in got[2]["items"])

    # The token's use is due to be recorded: the usual path writes it; then the lane answers again.
    await sync_to_async(ApiToken.objects.filter(user=member).update)(last_used_at=timezone.now() - timedelta(hours=1))
    got, usual = await _both(early, plain, _request(slug, token, cursor))
    assert got == usual and answered == []
    got, usual = await _both(early, plain, _request(slug, token, cursor))
    assert got == usual and len(answered) == 1

    # Revoked: the usual path's 401, never a page.
    token_id = (await sync_to_async(ApiToken.objects.get)(user=member)).id
    await sync_to_async(account_actions.do_revoke_token)(user=member, token_id=token_id)
    status, _headers, _body, _ = await call(early, _request(slug, token, cursor))
    assert status == 401 and len(answered) == 1


async def test_a_database_error_leaves_the_request_to_the_usual_path(feed, lanes, monkeypatch):
    slug, token = feed
    early, plain, answered = lanes
    cursor = json.loads((await call(early, _request(slug, token)))[2])["next_cursor"]

    async def broken(sql, params):
        raise OSError("connection refused")

    monkeypatch.setattr(asyncfeed, "_rows", broken)
    got, usual = await _both(early, plain, _request(slug, token, cursor))
    assert got == usual and got[0] == 200 and answered == []


async def test_a_failed_read_leaves_no_broken_connection_behind(lanes):
    """PostgreSQL: a read cancelled mid-query closes its connection (the pool neither reuses nor loses it).
    SQLite: a failed read closes the connection, and the next read opens a fresh one."""
    if connection.vendor == "postgresql":
        task = asyncio.ensure_future(asyncfeed._rows("SELECT pg_sleep(5)", []))
        await asyncio.sleep(0.3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert asyncfeed._pool.opened == 0
        assert await asyncfeed._rows("SELECT %s", [1]) == [(1,)]
        assert asyncfeed._pool.opened == 1
    else:
        assert await asyncfeed._rows("SELECT %s", [1]) == [(1,)]
        with pytest.raises(sqlite3.OperationalError):
            await asyncfeed._rows("SELECT no_such_column FROM no_such_table", [])
        assert asyncfeed._sqlite._conn is None
        assert await asyncfeed._rows("SELECT %s", [2]) == [(2,)]


@pytest.mark.parametrize(("name", "value"), [("QUANZI_FEED_EVENT_LOOP_LANE", "maybe"),
                                             ("QUANZI_FEED_EVENT_LOOP_CONNECTIONS", "0"),
                                             ("QUANZI_FEED_EVENT_LOOP_CONNECTIONS", "four")])
def test_bad_settings_stop_the_start_up(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ImproperlyConfigured, match=name):
        asyncfeed.enabled()


def test_the_lane_is_on_by_default_and_can_be_turned_off(monkeypatch):
    assert asyncfeed.enabled()
    monkeypatch.setenv("QUANZI_FEED_EVENT_LOOP_LANE", "off")
    assert not asyncfeed.enabled()
