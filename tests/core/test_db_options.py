"""PostgreSQL connection options: server-side binding with prepared statements, configurable and checked."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.db import connection

SETTINGS_PROBE = (
    "import django; django.setup(); from django.conf import settings; o = settings.DATABASES['default']['OPTIONS'];"
    " print(o.get('server_side_binding'), o.get('prepare_threshold'))"
)


def _settings_with(tmp_path, **extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUANZI_")}
    env.update(DJANGO_SETTINGS_MODULE="quanzi.settings", QUANZI_DATA_DIR=str(tmp_path),
               QUANZI_DATABASE_URL="postgresql://postgres@127.0.0.1:5432/quanzi_probe", **extra)
    return subprocess.run([sys.executable, "-c", SETTINGS_PROBE], env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.db_independent
def test_prepare_threshold_defaults_to_5_and_can_be_turned_off(tmp_path):
    assert _settings_with(tmp_path).stdout.split() == ["True", "5"]
    assert _settings_with(tmp_path, QUANZI_DB_PREPARE_THRESHOLD="off").stdout.split() == ["True", "None"]
    assert _settings_with(tmp_path, QUANZI_DB_PREPARE_THRESHOLD="2").stdout.split() == ["True", "2"]


@pytest.mark.db_independent
@pytest.mark.parametrize("bad", ["five", "-1", "0", "1.5"])
def test_a_bad_prepare_threshold_stops_start_up_with_a_message(tmp_path, bad):
    result = _settings_with(tmp_path, QUANZI_DB_PREPARE_THRESHOLD=bad)
    assert result.returncode != 0
    assert "QUANZI_DB_PREPARE_THRESHOLD must be a positive whole number or 'off'" in result.stderr


@pytest.mark.django_db
def test_postgresql_binds_on_the_server_and_prepares_repeated_statements():
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only")
    from django.db.backends.postgresql.base import ServerBindingCursor

    with connection.cursor() as cursor:
        assert isinstance(cursor.cursor, ServerBindingCursor)
        for _ in range(6):
            cursor.execute("SELECT %s::int + 1", [41])
            assert cursor.fetchone() == (42,)
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s", ["%$1::int + 1%"])
        assert cursor.fetchone()[0] == 1


@pytest.mark.django_db(transaction=True)
def test_health_check_runs_only_after_an_idle_moment(monkeypatch):
    """A connection that just served a request without errors skips ``SELECT 1``; an idle or failed one doesn't."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only")
    from django.db import DatabaseError, connections

    from quanzi.core.postgresql import base as backend

    conn = connections["default"]  # the wrapper itself, not the thread-local proxy

    assert isinstance(conn, backend.DatabaseWrapper) and conn.health_check_enabled
    checks: list[bool] = []
    real_is_usable = conn.is_usable

    def counting_is_usable() -> bool:
        checks.append(True)
        return real_is_usable()

    monkeypatch.setattr(connection, "is_usable", counting_is_usable)

    def request(sql: str = "SELECT 1") -> None:
        conn.close_if_unusable_or_obsolete()  # request_started
        try:
            with conn.cursor() as cursor:
                conn.close_at = None  # the tests' CONN_MAX_AGE is 0; a server keeps the connection
                cursor.execute(sql)
        finally:
            conn.close_if_unusable_or_obsolete()  # request_finished

    conn.close()
    request()  # a new connection needs no check
    request()  # reused right after a clean request: no check either
    request()
    assert checks == []
    conn._proven_at -= backend.HEALTH_CHECK_AFTER_IDLE + 0.1  # idle for a while
    request()
    assert checks == [True]
    request()
    assert checks == [True]
    with pytest.raises(DatabaseError):
        request("SELECT no_such_column FROM no_such_table")
    assert checks == [True, True]  # after an error Django checks the connection as the request ends
    request()
    assert checks == [True, True]
    conn._proven_at -= backend.HEALTH_CHECK_AFTER_IDLE + 0.1
    request()
    assert checks == [True, True, True]
    conn.close()
