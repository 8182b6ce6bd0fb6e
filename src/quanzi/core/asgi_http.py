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
- a buffered response is sent from the loop; a streaming one (file downloads) is iterated in the pool
  thread and each chunk is handed to the loop, waiting for it to be written (back-pressure), so a
  slow client holds one pool thread, not memory.

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
# A streamed chunk that the client doesn't take within this time ends the response.
SEND_TIMEOUT_SECONDS = 300.0


def http_threads() -> int:
    """Pool size from ``QUANZI_HTTP_THREADS`` (at least 1)."""
    try:
        return max(1, int(os.environ.get("QUANZI_HTTP_THREADS", DEFAULT_THREADS)))
    except ValueError:
        return DEFAULT_THREADS


class _ClientGone(Exception):
    """The client disconnected while a streaming response was being sent."""


class PooledASGIHandler(ASGIHandler):
    """Django's ASGI HTTP handler with the sync middleware chain run in one pooled thread per request."""

    def __init__(self, threads: int | None = None) -> None:
        base.BaseHandler.__init__(self)
        self.load_middleware(is_async=False)
        self._threads = threads or http_threads()
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
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        loop = asyncio.get_running_loop()
        try:
            response = await loop.run_in_executor(self.pool, self._respond, scope, body_file, send, loop)
        finally:
            body_file.close()
        if response is not None:  # buffered: already closed in the pool thread
            await self.send_response(response, send)

    # --- in the pool thread ----------------------------------------------------------------------

    def _respond(self, scope: dict, body_file: Any, send: Any, loop: asyncio.AbstractEventLoop) -> HttpResponse | None:
        """Run the request like a WSGI server would; return a buffered response, or stream it and return None."""
        set_script_prefix(get_script_prefix(scope))
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, response = self.create_request(scope, body_file)
        if request is not None:
            response = self.get_response(request)
            response._handler_class = self.__class__
        if not response.streaming:
            response.content  # noqa: B018 - render now, in this thread (templates may touch the database)
            response.close()  # request_finished: connections are closed or kept by the thread that used them
            return response
        if isinstance(response, FileResponse):
            response.block_size = self.chunk_size
        try:
            self._stream(response, send, loop)
        except _ClientGone:
            pass
        finally:
            response.close()
        return None

    def _stream(self, response: HttpResponse, send: Any, loop: asyncio.AbstractEventLoop) -> None:
        def deliver(message: dict) -> None:
            future = asyncio.run_coroutine_threadsafe(send(message), loop)
            try:
                future.result(timeout=SEND_TIMEOUT_SECONDS)
            except Exception as exc:  # the connection closed or stalled: stop reading the file
                future.cancel()
                raise _ClientGone from exc

        deliver({"type": "http.response.start", "status": response.status_code, "headers": _headers(response)})
        for part in response.streaming_content:
            for chunk, _last in self.chunk_bytes(part):
                if chunk:
                    deliver({"type": "http.response.body", "body": chunk, "more_body": True})
        deliver({"type": "http.response.body", "body": b"", "more_body": False})


def _headers(response: HttpResponse) -> list[tuple[bytes, bytes]]:
    """The response's headers and cookies as ASGI header pairs (what ``ASGIHandler.send_response`` sends)."""
    headers = []
    for header, value in response.items():
        headers.append((header.encode("ascii"), value.encode("latin1")))
    for cookie in response.cookies.values():
        headers.append((b"Set-Cookie", cookie.OutputString().encode("ascii")))
    return headers
