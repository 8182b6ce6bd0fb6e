"""Names for the credential a live connection was opened with, so it can be cut off later.

A WebSocket outlives the request that opened it. When its token is revoked or its session
logs out, the connection must end too; the hub finds it by this name. Session keys are
hashed so they never travel over Redis.
"""

from __future__ import annotations

import hashlib


def token_credential(token_id: int) -> str:
    return f"t:{token_id}"


def session_credential(session_key: str) -> str:
    return "s:" + hashlib.sha256(session_key.encode()).hexdigest()[:32]
