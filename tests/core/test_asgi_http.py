"""The pooled ASGI HTTP handler: one pooled thread per request, Django semantics kept (core/asgi_http.py)."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter

import pytest
from django.core import signals
from django.http import HttpResponse, JsonResponse, StreamingHttpResponse
from django.test import override_settings
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from quanzi.core.asgi_http import PooledASGIHandler

SEEN: dict[str, object] = {}


def hello(request):
    SEEN.setdefault("view_threads", []).append(threading.get_ident())
    SEEN.setdefault("view_thread_names", set()).add(threading.current_thread().name)
    response = HttpResponse("hello 你好", content_type="text/plain; charset=utf-8")
    response["X-Extra"] = "1"
    response.set_cookie("flavour", "plain")
    return response


@csrf_exempt
def echo(request):
    return JsonResponse({"size": len(request.body), "head": request.body[:8].decode(), "method": request.method,
                         "query": request.GET.get("q", ""), "path": request.path})


def stream(request):
    def chunks():
        try:
            for i in range(int(request.GET.get("n", "3"))):
                SEEN["parts"] = i + 1
                yield f"part{i};".encode()
        finally:
            SEEN["stream_closed"] = True

    return StreamingHttpResponse(chunks(), content_type="text/plain")


def boom(request):
    raise RuntimeError("view failed")


urlpatterns = [
    path("hello/", hello),
    path("echo/", echo),
    path("stream/", stream),
    path("boom/", boom),
]


def scope(path_: str, method: str = "GET", query: bytes = b"", headers: list | None = None) -> dict:
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
        "path": path_, "raw_path": path_.encode(), "query_string": query, "root_path": "",
        "headers": [(b"host", b"testserver"), *(headers or [])],
        "client": ("127.0.0.1", 5000), "server": ("testserver", 80),
    }


async def call(handler, scope_: dict, body: bytes = b"", chunk: int = 0, fail_send_after: int | None = None,
               disconnect_after: int | None = None):
    """Run one request; the body arrives in pieces of ``chunk`` bytes; returns (status, headers, body, sent).

    ``fail_send_after``: the server's send raises after that many messages (a closed connection);
    ``disconnect_after``: the client disconnects once that many messages were sent (http.disconnect).
    """
    pieces = [body[i:i + chunk] for i in range(0, len(body), chunk)] if chunk and body else [body]
    incoming = [{"type": "http.request", "body": p, "more_body": i < len(pieces) - 1} for i, p in enumerate(pieces)]
    sent: list[dict] = []
    gone = asyncio.Event()

    async def receive():
        if incoming:
            return incoming.pop(0)
        await gone.wait()  # until then the client waits for the answer
        return {"type": "http.disconnect"}

    async def send(message):
        if fail_send_after is not None and len(sent) >= fail_send_after:
            raise OSError("client went away")
        sent.append(message)
        if disconnect_after is not None and len(sent) >= disconnect_after:
            gone.set()
            await asyncio.sleep(0)  # the disconnect is noticed before the next chunk

    await handler(scope_, receive, send)
    if not sent:
        return None, {}, b"", sent
    start = sent[0]
    return start["status"], dict(start["headers"]), b"".join(m.get("body", b"") for m in sent[1:]), sent


@pytest.fixture
def handler():
    with override_settings(ROOT_URLCONF=__name__, ALLOWED_HOSTS=["testserver"]):
        SEEN.clear()
        yield PooledASGIHandler(threads=2)


async def test_buffered_response_keeps_headers_cookies_and_body(handler):
    status, headers, body, _ = await call(handler, scope("/hello/"))
    assert status == 200
    assert body == "hello 你好".encode()
    assert headers[b"X-Extra"] == b"1"
    assert headers[b"Set-Cookie"].startswith(b"flavour=plain")


async def test_request_body_in_pieces_and_spooled_to_disk(handler, settings):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1024  # the 200 kB body rolls over to a temporary file
    body = b"abcdefgh" + b"x" * 200_000
    status, _headers, answer, _ = await call(
        handler, scope("/echo/", "POST", b"q=%E4%BD%A0", [(b"content-type", b"application/octet-stream")]),
        body, chunk=7_000)
    assert status == 200
    assert answer == b'{"size": 200008, "head": "abcdefgh", "method": "POST", "query": "\\u4f60", "path": "/echo/"}'


async def test_streaming_response_is_sent_in_order_and_closed(handler):
    status, _headers, body, sent = await call(handler, scope("/stream/", query=b"n=5"))
    assert status == 200
    assert body == b"part0;part1;part2;part3;part4;"
    assert sent[-1] == {"type": "http.response.body", "body": b"", "more_body": False}
    assert SEEN["stream_closed"] is True


async def test_client_gone_during_streaming_stops_the_iterator(handler):
    # The connection fails at the start, then the client disconnects after the first chunk: the handler
    # stops reading the iterator (no thousand chunks into the void) and closes it.
    finished = []

    def on_finished(**kwargs):
        finished.append(True)

    signals.request_finished.connect(on_finished)
    try:
        status, _headers, _body, sent = await call(handler, scope("/stream/", query=b"n=1000"), fail_send_after=0)
        assert status is None and sent == []
        assert finished == [True]  # request_finished once, from the request's own thread
        SEEN.clear()
        status, _headers, body, sent = await call(handler, scope("/stream/", query=b"n=1000"), disconnect_after=2)
        assert status == 200 and body == b"part0;" and len(sent) == 2
        assert SEEN["stream_closed"] is True and SEEN["parts"] <= 3
        assert finished == [True, True]
    finally:
        signals.request_finished.disconnect(on_finished)


async def test_slow_downloads_hold_no_pool_thread(handler):
    """Streams are sent by the event loop: with both pool threads' worth of clients stalled mid-download,
    another request is still served."""
    release = asyncio.Event()

    async def stalled_download():
        sent = []
        incoming = [{"type": "http.request", "body": b"", "more_body": False}]

        async def receive():
            if incoming:
                return incoming.pop(0)
            await asyncio.Event().wait()

        async def send(message):
            sent.append(message)
            if message["type"] == "http.response.body" and message["body"]:
                await release.wait()  # a client that doesn't read: the socket buffer is full

        await handler(scope("/stream/", query=b"n=50"), receive, send)
        return sent

    downloads = [asyncio.ensure_future(stalled_download()) for _ in range(4)]
    await asyncio.sleep(0.2)
    status, _headers, body, _ = await asyncio.wait_for(call(handler, scope("/hello/")), timeout=5)
    assert status == 200 and body == "hello 你好".encode()
    release.set()
    for done in await asyncio.gather(*downloads):
        assert b"".join(m.get("body", b"") for m in done[1:]).count(b"part") == 50


async def test_view_errors_become_500_responses(handler, settings):
    settings.DEBUG = False
    status, _headers, body, _ = await call(handler, scope("/boom/"))
    assert status == 500
    assert b"view failed" not in body


async def test_bad_host_is_400_not_a_crash(handler):
    status, _headers, _body, _ = await call(handler, {**scope("/hello/"), "headers": [(b"host", b"evil.example")]})
    assert status == 400


async def test_request_runs_and_finishes_on_one_reused_pool_thread(handler):
    """request_started, the view and request_finished (which closes or keeps DB connections) share a thread."""
    started, finished = [], []

    def on_started(**kwargs):
        started.append(threading.get_ident())

    def on_finished(**kwargs):
        finished.append(threading.get_ident())

    signals.request_started.connect(on_started)
    signals.request_finished.connect(on_finished)
    try:
        for _ in range(3):
            await call(handler, scope("/hello/"))
        assert started == SEEN["view_threads"] == finished
        # Concurrent requests: still only the pool's threads (counting live threads would be flaky: other
        # tests' executors exit on their own schedule).
        await asyncio.gather(*(call(handler, scope("/hello/")) for _ in range(23)))
    finally:
        signals.request_started.disconnect(on_started)
        signals.request_finished.disconnect(on_finished)
    views = SEEN["view_threads"]
    assert len(started) == len(finished) == len(views) == 26
    assert Counter(started) == Counter(views) == Counter(finished)
    assert len(set(views)) <= 2  # the pool's two threads, reused
    assert all(name.startswith("quanzi-http") for name in SEEN["view_thread_names"])  # no thread per request
    assert threading.get_ident() not in views  # never on the event loop's thread


async def test_only_http(handler):
    with pytest.raises(ValueError, match="HTTP only"):
        await handler({"type": "websocket"}, None, None)


def test_pool_size_from_the_environment(monkeypatch):
    from quanzi.core import asgi_http

    monkeypatch.setenv("QUANZI_HTTP_THREADS", "3")
    assert asgi_http.http_threads() == 3
    monkeypatch.setenv("QUANZI_HTTP_THREADS", "0")
    assert asgi_http.http_threads() == 1
    monkeypatch.setenv("QUANZI_HTTP_THREADS", "many")
    assert asgi_http.http_threads() == asgi_http.DEFAULT_THREADS


def test_the_served_application_uses_the_pooled_handler():
    from quanzi import asgi

    assert isinstance(asgi.django_asgi_app, PooledASGIHandler)
