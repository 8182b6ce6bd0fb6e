"""A local HTTP(S) server for link-snapshot tests, and a guard that no test connects anywhere else.

Snapshots are off in tests unless a test asks for ``snapshot_server``: that fixture turns them on
and allows exactly the server's address (127.0.0.1) and port through the fetcher's address check.
"""

from __future__ import annotations

import gzip
import io
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image

from quanzi.archive import fetcher

LOOPBACK = "127.0.0.1"


@pytest.fixture(autouse=True)
def only_loopback_connections(monkeypatch):
    """Fail any attempt to open a TCP connection to anything but 127.0.0.1 (a forbidden target
    reached by mistake must fail the test, never send a packet)."""
    real_connect = socket.socket.connect
    attempts: list = []

    def guarded(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if self.family in (socket.AF_INET, socket.AF_INET6) and host != LOOPBACK:
            attempts.append(address)
            raise RuntimeError(f"test guard: refused to connect to {address!r}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    yield attempts
    assert not attempts, f"connections attempted to {attempts}"


def png_bytes(color=(200, 30, 30), size=(40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()


@dataclass
class Route:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | Callable = b""


class Server:
    """A threaded http.server whose answers tests set per path; it records the requests it saw."""

    def __init__(self, tls_context: ssl.SSLContext | None = None) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                server.requests.append({"path": self.path, "host": self.headers.get("Host"),
                                        "user_agent": self.headers.get("User-Agent")})
                route = server.routes.get(self.path)
                if route is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if callable(route.body):
                    self.send_response(route.status)
                    for key, value in route.headers.items():
                        self.send_header(key, value)
                    self.send_header("Connection", "close")
                    self.end_headers()
                    try:
                        route.body(self.wfile)
                    except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
                        pass
                    self.close_connection = True
                    return
                self.send_response(route.status)
                for key, value in route.headers.items():
                    self.send_header(key, value)
                if "Content-Length" not in route.headers:
                    self.send_header("Content-Length", str(len(route.body)))
                self.end_headers()
                try:
                    self.wfile.write(route.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        class QuietServer(ThreadingHTTPServer):
            def handle_error(self, request, client_address) -> None:
                pass  # clients that give up (refused TLS, timeouts) are what the tests are about

        self.httpd = QuietServer((LOOPBACK, 0), Handler)
        self.httpd.daemon_threads = True
        if tls_context is not None:
            self.httpd.socket = tls_context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.scheme = "https" if tls_context else "http"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def url(self, path: str = "/", host: str = LOOPBACK) -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"

    def page(self, path: str, html: str, content_type: str = "text/html; charset=utf-8") -> str:
        self.routes[path] = Route(headers={"Content-Type": content_type}, body=html.encode("utf-8"))
        return self.url(path)

    def image(self, path: str, data: bytes | None = None, content_type: str = "image/png") -> str:
        self.routes[path] = Route(headers={"Content-Type": content_type}, body=data or png_bytes())
        return self.url(path)

    def redirect(self, path: str, location: str, status: int = 302) -> str:
        self.routes[path] = Route(status=status, headers={"Location": location, "Content-Length": "0"}, body=b"")
        return self.url(path)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def snapshot_server(settings):
    """A running local server, with snapshots on and its address and port allowed (tests only)."""
    server = Server()
    settings.QUANZI_SNAPSHOTS_ENABLED = True
    settings.QUANZI_SNAPSHOT_ALLOWED_TEST_HOSTS = [LOOPBACK]
    settings.QUANZI_SNAPSHOT_ALLOWED_PORTS = [80, 443, server.port]
    settings.QUANZI_SNAPSHOT_TIMEOUT = 3.0
    yield server
    server.close()


@pytest.fixture
def fake_dns(monkeypatch):
    """``fake_dns({"name.test": ["10.0.0.1"]})``: what the fetcher's resolver answers; records lookups."""
    lookups: list[str] = []
    table: dict[str, list[str]] = {}
    real = fetcher.resolve

    def resolve(host: str, port: int) -> list[str]:
        lookups.append(host)
        if host in table:
            return list(table[host])
        if host.endswith(".test"):
            raise OSError("no such test host")
        return real(host, port)

    monkeypatch.setattr(fetcher, "resolve", resolve)

    def set_table(entries: dict[str, list[str]]) -> list[str]:
        table.update(entries)
        return lookups

    return set_table


def trickle(pieces: list[bytes], delay: float):
    def write(wfile) -> None:
        for piece in pieces:
            wfile.write(piece)
            wfile.flush()
            time.sleep(delay)

    return write


def gzip_bytes(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=9)
