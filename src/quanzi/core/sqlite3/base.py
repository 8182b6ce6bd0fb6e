"""Django's SQLite backend, with each statement's placeholder conversion done once.

Python's sqlite3 takes ``?`` placeholders, so Django's cursor rewrites every statement from ``%s``
with a regular expression on every execution. For the feed page's 3 KB statement that was ~30 µs,
about 3% of the page; the rewriting depends on nothing but the text, so it is remembered per text
(the ORM and the hand-written reads repeat the same few hundred statements).
"""

from __future__ import annotations

import functools

from django.db.backends.sqlite3 import base

REMEMBERED_LENGTH = 16_000  # longer statements (bulk inserts) are converted each time, not kept


def _convert(query: str) -> str:
    return base.FORMAT_QMARK_REGEX.sub("?", query).replace("%%", "%")


_remembered = functools.lru_cache(maxsize=2048)(_convert)


class SQLiteCursorWrapper(base.SQLiteCursorWrapper):
    def convert_query(self, query: str, *, param_names: list[str] | None = None) -> str:
        if param_names is None:
            return _remembered(query) if len(query) <= REMEMBERED_LENGTH else _convert(query)
        return super().convert_query(query, param_names=param_names)


class DatabaseWrapper(base.DatabaseWrapper):
    def create_cursor(self, name: str | None = None) -> SQLiteCursorWrapper:
        return self.connection.cursor(factory=SQLiteCursorWrapper)
