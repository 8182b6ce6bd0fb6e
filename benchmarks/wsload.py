"""A lean asyncio WebSocket load client: many connections in one process, few microseconds per frame.

Used unchanged against our server and against the raw ``websockets`` baseline, so the
client's own cost is the same on both sides. It speaks just enough RFC 6455 for the
benchmark: the upgrade handshake, unmasked server text frames, ping/pong and close.
Every payload carries ``-at-<monotonic send time>-end``; latency = receive − send.
"""

from __future__ import annotations

import asyncio
import base64
import os
import time
from dataclasses import dataclass, field


@dataclass
class Stats:
    """What all receiving connections saw since the last reset."""

    deliveries: int = 0
    payload_bytes: int = 0
    first_recv: float = 0.0
    last_recv: float = 0.0
    latencies: list[float] = field(default_factory=list)

    def reset(self) -> None:
        self.deliveries = 0
        self.payload_bytes = 0
        self.first_recv = 0.0
        self.last_recv = 0.0
        self.latencies = []


def _mask(data: bytes, key: bytes) -> bytes:
    n = len(data)
    if not n:
        return data
    repeated = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(repeated, "little")).to_bytes(n, "little")


def frame(opcode: int, payload: bytes) -> bytes:
    """A masked client frame (FIN set)."""
    key = os.urandom(4)
    n = len(payload)
    if n < 126:
        header = bytes([0x80 | opcode, 0x80 | n])
    elif n < 65536:
        header = bytes([0x80 | opcode, 0x80 | 126]) + n.to_bytes(2, "big")
    else:
        header = bytes([0x80 | opcode, 0x80 | 127]) + n.to_bytes(8, "big")
    return header + key + _mask(payload, key)


class Client(asyncio.Protocol):
    """One WebSocket connection. ``stats`` is shared by all receiving connections."""

    def __init__(self, stats: Stats | None, *, record: bool = True) -> None:
        self.stats = stats
        self.record = record
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.open = False
        self.loop = asyncio.get_running_loop()
        self.handshake: asyncio.Future = self.loop.create_future()
        self.first_text: asyncio.Future = self.loop.create_future()
        self.closed: asyncio.Future = self.loop.create_future()
        self.texts: asyncio.Queue | None = None  # set to collect every text frame (sender side)
        self.close_code: int | None = None

    # --- asyncio.Protocol --------------------------------------------------------------------

    def connection_made(self, transport) -> None:
        self.transport = transport

    def connection_lost(self, exc) -> None:
        if not self.handshake.done():
            self.handshake.set_exception(ConnectionError("closed during the handshake"))
        if not self.closed.done():
            self.closed.set_result(self.close_code)

    def data_received(self, data: bytes) -> None:
        if self.buffer:
            data = self.buffer + data
            self.buffer = b""
        if not self.open:
            end = data.find(b"\r\n\r\n")
            if end < 0:
                self.buffer = data
                return
            status = data[: data.find(b"\r\n")]
            if b" 101 " not in status + b" ":
                self.handshake.set_exception(ConnectionError(status.decode("latin-1")))
                self.transport.close()
                return
            self.open = True
            self.handshake.set_result(True)
            data = data[end + 4 :]
        self._frames(data)

    # --- frames ------------------------------------------------------------------------------

    def _frames(self, data: bytes) -> None:
        pos, n = 0, len(data)
        now = None
        while n - pos >= 2:
            b0, b1 = data[pos], data[pos + 1]
            length, header = b1 & 0x7F, 2
            if length == 126:
                if n - pos < 4:
                    break
                length, header = int.from_bytes(data[pos + 2 : pos + 4], "big"), 4
            elif length == 127:
                if n - pos < 10:
                    break
                length, header = int.from_bytes(data[pos + 2 : pos + 10], "big"), 10
            if b1 & 0x80:
                header += 4  # servers do not mask; tolerate it anyway
            if n - pos < header + length:
                break
            payload = data[pos + header : pos + header + length]
            pos += header + length
            opcode = b0 & 0x0F
            if opcode in (1, 0):
                if now is None:
                    now = time.monotonic()
                self._text(payload, now)
            elif opcode == 9:
                self.transport.write(frame(0xA, payload))
            elif opcode == 8:
                self.close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
                if not self.transport.is_closing():
                    self.transport.write(frame(0x8, payload[:2]))
                    self.transport.close()
        if pos < n:
            self.buffer = data[pos:]

    def _text(self, payload: bytes, now: float) -> None:
        if not self.first_text.done():
            self.first_text.set_result(payload)
        if self.texts is not None:
            self.texts.put_nowait(payload)
        stats = self.stats
        if stats is None or not self.record:
            return
        start = payload.find(b"-at-")
        if start < 0:
            return
        end = payload.find(b"-end", start)
        stats.deliveries += 1
        stats.payload_bytes += len(payload)
        if not stats.first_recv:
            stats.first_recv = now
        stats.last_recv = now
        stats.latencies.append(now - float(payload[start + 4 : end]))

    def send_text(self, text: str) -> None:
        self.transport.write(frame(0x1, text.encode()))

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            try:
                self.transport.write(frame(0x8, (1000).to_bytes(2, "big")))
            finally:
                self.transport.close()


async def connect(
    host: str, port: int, path: str, stats: Stats | None, *, wait_first_text: bool = False,
    record: bool = True, timeout: float = 20.0,
) -> Client:
    """Open one connection; with ``wait_first_text`` also wait for the server's first frame."""
    loop = asyncio.get_running_loop()
    _transport, client = await asyncio.wait_for(
        loop.create_connection(lambda: Client(stats, record=record), host, port), timeout
    )
    key = base64.b64encode(os.urandom(16)).decode()
    client.transport.write(
        (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    await asyncio.wait_for(client.handshake, timeout)
    if wait_first_text:
        await asyncio.wait_for(client.first_text, timeout)
    return client


async def connect_many(
    host: str, port: int, paths: list[str], stats: Stats, *, wait_first_text: bool, concurrency: int = 64
) -> list[Client]:
    """Open many connections, a bounded number of handshakes at a time."""
    gate = asyncio.Semaphore(concurrency)

    async def one(path: str) -> Client:
        async with gate:
            return await connect(host, port, path, stats, wait_first_text=wait_first_text)

    return list(await asyncio.gather(*(one(p) for p in paths)))
