"""The baseline: a raw ``websockets`` server that relays each frame from /send to every other socket.

``websockets.broadcast`` writes one frame per connection without awaiting anything —
the ceiling for fan-out in Python on this machine (docs/performance.md).
Usage: raw_server.py PORT  (prints READY when listening).
"""

from __future__ import annotations

import asyncio
import sys

from websockets.asyncio.server import broadcast, serve

members: set = set()


async def handler(connection) -> None:
    if connection.request.path.startswith("/send"):
        async for message in connection:
            broadcast(members, message)
        return
    members.add(connection)
    try:
        await connection.wait_closed()
    finally:
        members.discard(connection)


async def main(port: int) -> None:
    async with serve(handler, "127.0.0.1", port, max_size=2**20, backlog=4096):
        print("READY", flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
