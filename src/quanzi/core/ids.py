"""Turning untrusted ids (from URLs, JSON, WebSocket frames) into database ids."""

from __future__ import annotations

MAX_DB_ID = 2**63 - 1


def as_db_id(value: object) -> int | None:
    """A positive 64-bit integer id, or None for anything else (bool, huge, negative, "²", …).

    Callers treat None as "no such object", so a malformed id answers like a missing one
    instead of overflowing the database integer.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 19:
        number = int(value)
    else:
        return None
    return number if 0 < number <= MAX_DB_ID else None
