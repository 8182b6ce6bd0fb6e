"""The SQLite backend (core/sqlite3): placeholders converted once per statement text, same results."""

from __future__ import annotations

import pytest
from django.db import connection, connections

from quanzi.core.sqlite3 import base

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _sqlite_only():
    if connection.vendor != "sqlite":
        pytest.skip("SQLite backend")


def test_the_configured_backend_is_ours():
    assert isinstance(connections["default"], base.DatabaseWrapper)
    with connection.cursor() as cursor:
        assert isinstance(cursor.cursor, base.SQLiteCursorWrapper)


@pytest.mark.parametrize(("query", "expected"), [
    ("SELECT %s", "SELECT ?"),
    ("SELECT %s, '100%%', %s", "SELECT ?, '100%', ?"),
    ("SELECT '%%s'", "SELECT '%s'"),
    ("SELECT 1", "SELECT 1"),
])
def test_conversion_is_djangos(query, expected):
    cursor = connection.connection.cursor(factory=base.SQLiteCursorWrapper)
    assert cursor.convert_query(query) == expected == base._convert(query)
    assert cursor.convert_query(query) == expected  # remembered
    assert cursor.convert_query("SELECT :a", param_names=["a"]) == "SELECT :a"


def test_statements_run_with_format_and_pyformat_parameters():
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s || '%%', %s", ["7", 8])
        assert cursor.fetchone() == ("7%", 8)
        cursor.execute("SELECT %s || '%%', %s", ["9", 10])  # the remembered text, other values
        assert cursor.fetchone() == ("9%", 10)
        cursor.execute("SELECT %(a)s + %(b)s", {"a": 1, "b": 2})
        assert cursor.fetchone() == (3,)


def test_long_statements_are_converted_but_not_kept():
    before = base._remembered.cache_info().currsize
    query = "SELECT %s" + " " * base.REMEMBERED_LENGTH
    with connection.cursor() as cursor:
        cursor.execute(query, [5])
        assert cursor.fetchone() == (5,)
    assert base._remembered.cache_info().currsize == before
