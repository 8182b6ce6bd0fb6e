"""`quanzi run` hands uvicorn the settings the deployment docs describe."""

from __future__ import annotations

import pytest

from quanzi import cli


@pytest.mark.db_independent
@pytest.mark.parametrize(("level", "access_log"), [("info", True), ("debug", True), ("warning", False),
                                                    ("ERROR", False)])
def test_access_lines_only_when_the_log_level_shows_them(monkeypatch, level, access_log):
    import uvicorn

    seen: dict = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: seen.update(kwargs, app=app))
    assert cli.main(["run", "--worker", "none", "--log-level", level, "--port", "8123"]) == 0
    assert seen["app"] == "quanzi.asgi:application" and seen["port"] == 8123
    assert seen["access_log"] is access_log and seen["log_level"] == level
    assert seen["ws_per_message_deflate"] is False and seen["lifespan"] == "off"
