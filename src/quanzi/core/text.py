"""Text rules shared by every input path (HTTP forms and queries, JSON bodies, WebSocket frames).

PostgreSQL refuses NUL (U+0000) in text columns and in query parameters, and no human text
needs it, so it is refused at the edge with a clear 400 instead of failing in the database.
"""

from __future__ import annotations

from typing import Any

NUL = "\x00"


def contains_nul(value: Any) -> bool:
    """True when any string in a decoded JSON value (keys included) contains NUL."""
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(contains_nul(k) or contains_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(contains_nul(item) for item in value)
    return False
