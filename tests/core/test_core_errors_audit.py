"""Error objects every layer maps the same way, and the audit writer's limits."""

from __future__ import annotations

import json

import pytest

from quanzi.core import audit
from quanzi.core.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    QuanziError,
    RateLimited,
)


@pytest.mark.parametrize(("cls", "status", "code"), [
    (InvalidInput, 400, "invalid"),
    (NotAuthenticated, 401, "not_authenticated"),
    (Forbidden, 403, "forbidden"),
    (NotFound, 404, "not_found"),
    (Conflict, 409, "conflict"),
    (RateLimited, 429, "rate_limited"),
])
def test_defaults_and_overrides(cls, status, code):
    error = cls("Something")
    assert isinstance(error, QuanziError)
    assert (error.status, error.code, error.message) == (status, code, "Something")
    assert cls("x", code="specific").code == "specific"
    # The class default is not changed by an instance override.
    assert cls("y").code == code


def test_as_dict_is_json_and_rate_limited_adds_retry_after():
    assert json.loads(json.dumps(Forbidden("No", code="muted").as_dict())) == {"code": "muted", "message": "No"}
    limited = RateLimited("Slow down", retry_after=12.345, code="slow_mode")
    assert limited.as_dict() == {"code": "slow_mode", "message": "Slow down", "retry_after": 12.3}
    assert QuanziError("x", status=418).status == 418


def test_audit_record_truncates_and_defaults_target_repr(circle, owner, member):
    entry = audit.record(circle=circle, actor=owner, action="member.kick", target_user=member,
                         reason="r" * 3000, data={"k": 1})
    assert entry.target_repr == member.username
    assert len(entry.reason) == 2000 and entry.data == {"k": 1}
    long = audit.record(circle=circle, actor=None, action="system", target_repr="t" * 400)
    assert len(long.target_repr) == 255 and long.actor_id is None and long.data == {}
