"""The event listener: serialise each committed event once and hand it to the hubs.

It runs in whatever thread committed the transaction (a request thread, the worker
thread of ``database_sync_to_async``, a management command). Embedded mode passes the
event to this process's event loop; with Redis it publishes one message per event and
every server process — this one included — delivers it from its subscriber task, so
nothing is delivered twice.
"""

from __future__ import annotations

import json
import logging
import threading
import time

from django.conf import settings

from quanzi.core.events import Event

from .audience import audience_for
from .hub import current_hub, deliver_threadsafe, encode_envelope

logger = logging.getLogger(__name__)

_redis_client = None
_redis_lock = threading.Lock()
# After a failed publish, skip Redis for a few seconds: an unreachable Redis must not add
# its timeout to every action's commit. (Subscribers close their sockets when their own
# connection drops, so clients reconnect and sync what they missed.)
REDIS_RETRY_AFTER = 5.0
_redis_down_until = 0.0


def event_text(event: Event) -> str:
    """The client JSON of an event (compact, non-ASCII kept as is)."""
    return json.dumps(event.client_dict(), separators=(",", ":"), ensure_ascii=False, default=str)


def _redis():
    """One synchronous client (with its connection pool) per process, shared by all threads."""
    global _redis_client
    if _redis_client is None:
        with _redis_lock:
            if _redis_client is None:
                import redis

                _redis_client = redis.Redis.from_url(
                    settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2, health_check_interval=30
                )
    return _redis_client


def publish_event(event: Event) -> None:
    route = audience_for(event)
    if route is None:
        return
    if settings.HAS_REDIS:
        global _redis_down_until
        if time.monotonic() < _redis_down_until:
            return
        try:
            _redis().publish(settings.REALTIME_CHANNEL, encode_envelope(route, event_text(event)))
        except Exception as exc:
            # The change is committed; clients fetch it on their next sync.
            _redis_down_until = time.monotonic() + REDIS_RETRY_AFTER
            logger.warning("could not publish %s to Redis (skipping Redis for %ss): %s", event.type,
                           REDIS_RETRY_AFTER, exc)
        return
    hub = current_hub()
    if hub is None or hub.loop.is_closed():
        return  # no sockets in this process (e.g. a management command)
    deliver_threadsafe(route, event_text(event))
