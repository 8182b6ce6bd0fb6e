"""HTTP under ASGI without Django's per-request threads: the whole sync request runs in one pooled thread.

Django's ``ASGIHandler`` runs a sync view stack through ``ThreadSensitiveContext``, which creates a
fresh single-thread executor for *every request* (one new OS thread, joined at the end) and hops
between the event loop and that thread several times (request_started, the middleware chain,
request_finished, the disconnect listener). Measured on the 2-core VM: a bare hello view cost ~3.9 ms
of CPU per request that way, most of it thread creation, joins and hops (docs/performance.md: Django
under ASGI is 8–11× slower than under WSGI for plain HTTP).

All our HTTP views and middleware are sync, so this handler serves HTTP the way a threaded WSGI
server does, while WebSockets stay on the event loop (``quanzi.asgi``):

- the body is read on the loop (spooled to disk above ``FILE_UPLOAD_MAX_MEMORY_SIZE``, as Django does);
- then one call into a long-lived thread pool runs request_started, the sync middleware chain and
  view, and request_finished (``response.close()``) — the thread that used a database connection is
  the one that closes or keeps it, exactly as under WSGI, so ``CONN_MAX_AGE`` keeps one connection
  per pool thread;
- a buffered response is sent from the loop; a streaming one (file downloads, exports) finishes its
  database work in the pool thread (request_finished), then the loop sends it, reading each chunk in
  the default executor and waiting for the socket to take it (back-pressure), and stops when the
  client disconnects: a slow download holds neither a pool thread nor memory.

The pool size is ``QUANZI_HTTP_THREADS`` (default 8). Events emitted by views reach the sockets of
this process through ``realtime.hub.deliver_threadsafe``, as they did from Django's threads.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers import base
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.http import FileResponse, HttpResponse
from django.urls import set_script_prefix

logger = logging.getLogger(__name__)

DEFAULT_THREADS = 8


def http_threads() -> int:
    """Pool size from ``QUANZI_HTTP_THREADS`` (at least 1)."""
    try:
        return max(1, int(os.environ.get("QUANZI_HTTP_THREADS", DEFAULT_THREADS)))
    except ValueError:
        return DEFAULT_THREADS


class PooledASGIHandler(ASGIHandler):
    """Django's ASGI HTTP handler with the sync middleware chain run in one pooled thread per request."""

    def __init__(self, threads: int | None = None, early_lane: Any = None) -> None:
        base.BaseHandler.__init__(self)
        self.load_middleware(is_async=False)
        self._threads = threads or http_threads()
        # A module with ``prepare(scope)`` (async: (status, headers, body) or None) and ``seen(scope,
        # response)`` that answers some GETs on the event loop (``api.asyncfeed``); None: every request here.
        self.early_lane = early_lane
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    @property
    def pool(self) -> ThreadPoolExecutor:
        # Created lazily: a server forked after import (uvicorn --workers) gets its own threads.
        if self._pool is None:
            with self._pool_lock:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix="quanzi-http")
        return self._pool

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError(f"PooledASGIHandler serves HTTP only, not {scope['type']}")
        if self.early_lane is not None and scope["method"] == "GET":
            try:
                early = await self.early_lane.prepare(scope)
            except Exception:  # the usual path answers; nothing was sent
                logger.exception("the event-loop lane failed; the request takes the usual path")
                early = None
            if early is not None:
                status, headers, body = early
                await send({"type": "http.response.start", "status": status, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        loop = asyncio.get_running_loop()
        try:
            response = await loop.run_in_executor(self.pool, self._respond, scope, body_file)
        finally:
            body_file.close()
        if response.streaming:
            await self._stream(response, receive, send)
        else:  # already rendered and closed in the pool thread
            await self.send_response(response, send)

    def _respond(self, scope: dict, body_file: Any) -> HttpResponse:
        """In a pool thread: the whole request, as a WSGI server runs it (buffered responses closed here)."""
        set_script_prefix(get_script_prefix(scope))
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, response = self.create_request(scope, body_file)
        if request is not None:
            response = self.get_response(request)
            response._handler_class = self.__class__
            if self.early_lane is not None:
                self.early_lane.seen(scope, response)
        if not response.streaming:
            response.content  # noqa: B018 - render now, in this thread (templates may touch the database)
            response.close()  # request_finished: connections are closed or kept by the thread that used them
            return response
        # A stream (a file download, an export) needs no database once built: finish the request's
        # database work on this thread now, and let the event loop send the body, so a slow client holds
        # no pool thread (eight slow downloads would otherwise stall every other request).
        signals.request_finished.send(sender=self.__class__)
        if isinstance(response, FileResponse):
            response.block_size = self.chunk_size
        return response

    async def _stream(self, response: HttpResponse, receive: Any, send: Any) -> None:
        """Send a streaming response; chunks are read off the loop; stop early if the client goes away."""
        loop = asyncio.get_running_loop()
        gone = asyncio.Event()

        async def watch_disconnect() -> None:
            message = await receive()  # the body was read before: only http.disconnect can come now
            while message["type"] != "http.disconnect":
                message = await receive()
            gone.set()

        watcher = asyncio.ensure_future(watch_disconnect())
        try:
            await send({"type": "http.response.start", "status": response.status_code,
                        "headers": response_headers(response)})
            if response.is_async:
                async for part in response.streaming_content:
                    if gone.is_set():
                        return
                    await self._send_part(part, send)
            else:
                parts = iter(response.streaming_content)
                while not gone.is_set():
                    part = await loop.run_in_executor(None, next, parts, _END)
                    if part is _END:
                        break
                    await self._send_part(part, send)
            if not gone.is_set():
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:  # the server reports a closed connection: nothing more to send
            logger.debug("client went away during a streamed response")
        finally:
            watcher.cancel()
            await loop.run_in_executor(None, _close_resources, response)

    async def _send_part(self, part: bytes, send: Any) -> None:
        for chunk, _last in self.chunk_bytes(part):
            if chunk:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})


_END = object()


def _close_resources(response: HttpResponse) -> None:
    """``response.close()`` without a second request_finished (it was sent by the request's pool thread)."""
    for closer in response._resource_closers:  # Django's list of files and request bodies to close
        try:
            closer()
        except Exception:  # noqa: BLE001 - as HttpResponseBase.close: one failing closer doesn't stop the rest
            logger.warning("closing a streamed response's resource failed", exc_info=True)
    response._resource_closers.clear()
    response.closed = True


def response_headers(response: HttpResponse) -> list[tuple[bytes, bytes]]:
    """The response's headers and cookies as ASGI header pairs (what ``ASGIHandler.send_response`` sends)."""
    headers = []
    for header, value in response.items():
        headers.append((header.encode("ascii"), value.encode("latin1")))
    for cookie in response.cookies.values():
        headers.append((b"Set-Cookie", cookie.OutputString().encode("ascii")))
    return headers
