"""The feed page's event-loop lane: a token's later pages answered without Django's request cycle.

Under ``quanzi run --workers 2`` the fast lane's page (``api/fastfeed.py``) cost our server 1.35–1.44
ms of CPU, of which the page's own work is a third: the rest is the request's trip through Django
(building the request, the thread-pool hop, middleware, URL resolution, the view wrapper) and a pool
thread blocking on the database. Here, for the requests that the fast lane would answer from a
remembered reader (``fastfeed._last_readers``), the page is read on the event loop (PostgreSQL: an
async psycopg connection; SQLite: a read-only connection, see ``SQLiteReader``) and written by the
same functions (``pagejson.bearer_page_statement``, ``bearer_page_rows``, ``page_result``, the same
reader check). Measured: 0.53–0.73 ms a page, and
0.61–0.77× the rate of a bare hello view instead of 0.35–0.37× (docs/feed.md).

Same answer, or no answer: anything this lane is not sure of returns None, and the request takes the
usual path unchanged (the thread pool, the middleware, the fast lane, django-ninja):

- ``QUANZI_FEED_EVENT_LOOP_LANE=off``, not a GET of the lane's route, a root path,
  NUL characters, an ``Accept-Language`` or ``Cookie`` header, no bearer token, odd parameters
  (``fastfeed.query_arguments``);
- no remembered reader for the token and circle (its first page in this process), a token that is
  unknown, revoked or inactive, no active membership, a reader that changed (the rows are used only
  for exactly the remembered reader, as in the fast lane), a token whose use is due to be recorded
  (``accounts.selectors.token_use_due``: the usual path writes it);
- no response headers seen yet for this scheme, host and user language: the headers are those the
  middleware gave the fast lane's own answer to such a request (security headers, CSP,
  ``Content-Language``, ``Vary``...), remembered by ``seen`` from the pool thread. So the headers
  are the middleware's by construction, and a host is served here only after Django accepted it;
- any error (a database error closes that connection).

Connections: PostgreSQL, at most ``QUANZI_FEED_EVENT_LOOP_CONNECTIONS`` (default 4) per process,
opened on first use with Django's connection parameters, kept, in autocommit, UTC; SQLite, one.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import sqlite3
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connections
from django.db.backends.sqlite3.base import FORMAT_QMARK_REGEX
from django.http import QueryDict
from django.urls import Resolver404, resolve
from django.utils import timezone

from quanzi.accounts.selectors import token_key_hash, token_use_due
from quanzi.core.asgi_http import response_headers
from quanzi.feed import fastsql, pagejson
from quanzi.feed.rules import Viewer, held_plans

from . import fastfeed

logger = logging.getLogger(__name__)

DEFAULT_CONNECTIONS = 4
Headers = list[tuple[bytes, bytes]]
# ``_key`` -> the headers the middleware gave the fast lane's answer, minus Content-Length.
_seen_headers: dict[tuple, Headers] = {}
SKIPPED_HEADERS = frozenset({b"content-length"})


def enabled() -> bool:
    """On (PostgreSQL and SQLite) unless ``QUANZI_FEED_EVENT_LOOP_LANE=off``; bad settings stop the start-up."""
    switch = os.environ.get("QUANZI_FEED_EVENT_LOOP_LANE", "on").strip().lower()
    if switch not in ("on", "off"):
        raise ImproperlyConfigured(f"QUANZI_FEED_EVENT_LOOP_LANE must be 'on' or 'off', not {switch!r}")
    _pool_size()
    return switch == "on" and connections["default"].vendor in ("postgresql", "sqlite")


def _pool_size() -> int:
    text = os.environ.get("QUANZI_FEED_EVENT_LOOP_CONNECTIONS", str(DEFAULT_CONNECTIONS)).strip()
    if not (text.isascii() and text.isdigit() and int(text) > 0):
        raise ImproperlyConfigured(f"QUANZI_FEED_EVENT_LOOP_CONNECTIONS must be a positive whole number, not {text!r}")
    return int(text)


class ConnectionPool:
    """Up to ``size`` async connections of this process's event loop; a broken one is dropped."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.opened = 0
        self._idle: asyncio.Queue | None = None

    async def acquire(self) -> Any:
        import psycopg

        if self._idle is None:
            self._idle = asyncio.Queue()
        if self._idle.empty() and self.opened < self.size:
            self.opened += 1
            try:
                params = connections["default"].get_connection_params()
                params.pop("cursor_factory", None)  # Django's cursor classes are for sync connections
                conn = await psycopg.AsyncConnection.connect(**params, autocommit=True)
                await conn.execute("SET TIME ZONE 'UTC'")  # as Django's connections (USE_TZ)
            except BaseException:
                self.opened -= 1
                raise
            return conn
        return await self._idle.get()

    def release(self, conn: Any, *, broken: bool = False) -> None:
        if broken or conn.closed:
            self.opened -= 1
            asyncio.ensure_future(conn.close())
        else:
            self._idle.put_nowait(conn)


class SQLiteReader:
    """One read-only connection to the SQLite database, used on the event loop.

    There is no async SQLite driver worth the name (they run the same calls in a thread). A page's
    statement takes ~0.1–0.3 ms, mostly in SQLite's C code with the GIL released, so it runs on the
    loop like any other short computation; in WAL mode a reader never waits for a writer.
    """

    def __init__(self) -> None:
        self._conn: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        name = str(connections["default"].settings_dict["NAME"])
        # Tests use a shared in-memory database, which is already a URI; a file is opened read-only.
        uri = name if name.startswith("file:") else Path(name).resolve().as_uri() + "?mode=ro"
        # timeout=0: a locked database fails at once (the usual path answers) instead of blocking the loop.
        return sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False, timeout=0)

    async def rows(self, sql: str, params: list) -> list[tuple]:
        if self._conn is None:
            self._conn = self._connect()
        try:
            return self._conn.execute(_qmark(sql), params).fetchall()
        except Exception:
            self.close()
            raise

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


@functools.lru_cache(maxsize=64)
def _qmark(sql: str) -> str:
    """Django's ``%s`` placeholders as SQLite's ``?`` (as Django's SQLite backend converts them)."""
    return FORMAT_QMARK_REGEX.sub("?", sql).replace("%%", "%")


async def _rows(sql: str, params: list) -> list[tuple]:
    """The statement's rows, read without blocking on a pool thread: PostgreSQL async, SQLite on the loop."""
    global _pool, _sqlite
    if connections["default"].vendor == "sqlite":
        if _sqlite is None:
            _sqlite = SQLiteReader()
        return await _sqlite.rows(sql, params)
    if _pool is None:
        _pool = ConnectionPool(_pool_size())
    conn = await _pool.acquire()
    done = False
    try:
        cursor = await conn.execute(sql, params)
        rows = await cursor.fetchall()
        done = True
    finally:  # also when cancelled mid-query: that connection is closed, not reused or lost
        _pool.release(conn, broken=not done)
    return rows


_pool: ConnectionPool | None = None
_sqlite: SQLiteReader | None = None


def _key(scope: dict, language: str) -> tuple:
    """What the middleware's headers for the lane's answer can depend on, besides the settings.

    The scheme and the headers Django reads for ``is_secure`` and ``get_host`` (HSTS, the host check),
    and the user's language (``Content-Language``; requests with Accept-Language or a cookie are not taken).
    """
    names = [b"host"]
    if settings.SECURE_PROXY_SSL_HEADER:
        names.append(settings.SECURE_PROXY_SSL_HEADER[0].removeprefix("HTTP_").lower().replace("_", "-").encode())
    if settings.USE_X_FORWARDED_HOST:
        names.append(b"x-forwarded-host")
    if settings.USE_X_FORWARDED_PORT:
        names.append(b"x-forwarded-port")
    return (scope["scheme"], language, *(_header(scope, name) for name in names))


def _header(scope: dict, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return value
    return None


async def prepare(scope: dict) -> tuple[int, Headers, bytes] | None:
    """(status, headers, body) of the fast lane's answer to this request, or None: the usual path answers."""
    path = scope["path"]
    if scope.get("root_path") or "\x00" in path or _header(scope, b"accept-language") is not None \
            or _header(scope, b"cookie") is not None:
        return None
    authorization = _header(scope, b"authorization")
    if authorization is None:
        return None
    scheme, _, key = authorization.decode("latin-1").partition(" ")
    if scheme.lower() != "bearer":
        return None
    key_hash = token_key_hash(key.strip())
    try:
        match = resolve(path)
    except Resolver404:
        return None
    slug = match.kwargs.get("slug")
    if match.url_name != fastfeed.LANE_NAME or not isinstance(slug, str) or key_hash is None:
        return None
    guess = fastfeed._last_readers.get((key_hash, slug))
    query = scope.get("query_string", b"")
    if guess is None or b"\x00" in query or b"%00" in query:
        return None
    arguments = fastfeed.query_arguments(QueryDict(query))
    if arguments is None:
        return None
    now = timezone.now()
    sql, params = pagejson.bearer_page_statement(key_hash, slug, now, *guess, **arguments)
    found, page_rows = pagejson.bearer_page_rows(await _rows(sql, params))
    if found is None or not found[2].is_active:
        return None
    token, circle_id, membership, plans = found
    if token_use_due(token["last_used_at"], now):
        return None
    headers = _seen_headers.get(_key(scope, token["user_language"]))
    viewer = Viewer(membership, plan_ids=held_plans(membership, plans, now))
    if headers is None or guess != (circle_id, fastsql.reader_of(viewer)):
        return None
    items, next_cursor = pagejson.page_result(page_rows, viewer, arguments["limit"])
    body = f'{{"items":{items},"next_cursor":{json.dumps(next_cursor)}}}'.encode()
    return 200, [*headers, (b"Content-Length", str(len(body)).encode())], body


def seen(scope: dict, response: Any) -> None:
    """From the pool thread: remember the headers of the fast lane's answer to a request this lane could take."""
    language = getattr(response, "fast_lane_language", None)
    if language is None or response.status_code != 200 or response.cookies:
        return
    if _header(scope, b"accept-language") is not None or _header(scope, b"cookie") is not None:
        return
    key = _key(scope, language)
    if key not in _seen_headers:
        _seen_headers[key] = [(name, value) for name, value in response_headers(response)
                              if name.lower() not in SKIPPED_HEADERS]


async def close_pool() -> None:
    """Close this process's connections (tests; a server's exit closes them anyway)."""
    global _pool, _sqlite
    if _sqlite is not None:
        _sqlite.close()
        _sqlite = None
    pool, _pool = _pool, None
    if pool is not None and pool._idle is not None:
        while not pool._idle.empty():
            await pool._idle.get_nowait().close()
