"""API test helpers: a JSON client that authenticates with a bearer token."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client

from quanzi.accounts import actions as account_actions

PASSWORD = "correct-horse-battery-9"  # what tests/conftest.py's make_user sets


class ApiClient:
    """Thin wrapper over Django's test client: JSON in, (status, JSON) out."""

    def __init__(self, user=None, *, token: str | None = None, client: Client | None = None) -> None:
        self.client = client or Client()
        self.user = user
        self.token = token
        if user is not None and token is None:
            _row, self.token = account_actions.do_create_token(user=user, name="tests")

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def call(self, method: str, path: str, body: Any = None, *, raw: bytes | str | None = None, **query) -> Any:
        kwargs: dict[str, Any] = {"headers": self._headers()}
        if raw is not None:
            kwargs.update(data=raw, content_type="application/json")
        elif body is not None:
            kwargs.update(data=json.dumps(body), content_type="application/json")
        elif method != "get":
            kwargs.update(data="", content_type="application/json")  # an empty body, as HTTP clients send
        if query:
            path = path + ("&" if "?" in path else "?") + "&".join(f"{k}={v}" for k, v in query.items())
        response = getattr(self.client, method)(path, **kwargs)
        response.data = response.json() if response.get("Content-Type", "").startswith("application/json") else None
        return response

    def get(self, path: str, **query) -> Any:
        return self.call("get", path, **query)

    def post(self, path: str, body: Any = None, **kw) -> Any:
        return self.call("post", path, body, **kw)

    def patch(self, path: str, body: Any = None, **kw) -> Any:
        return self.call("patch", path, body, **kw)

    def delete(self, path: str, **query) -> Any:
        return self.call("delete", path, **query)


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:500])
    body = response.json()
    assert body["code"] == code, body
    assert isinstance(body["message"], str) and body["message"]
    return body
