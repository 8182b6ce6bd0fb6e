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


# Matches every session credential of a user (a password change or reset ends them all;
# API tokens are separate credentials and stay valid).
ALL_SESSIONS = "s:*"


def credential_matches(credential: str | None, pattern: str) -> bool:
    """Whether a connection's credential is the one revoked (``pattern`` may end in ``*``)."""
    if credential is None:
        return False
    if pattern.endswith("*"):
        return credential.startswith(pattern[:-1])
    return credential == pattern
