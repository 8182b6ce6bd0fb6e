"""One text-matching backend per database, behind the same two-method interface.

Both answer "rows whose folded text contains every term as a substring":

- SQLite: an FTS5 table with the trigram tokenizer (SQLite ≥ 3.34) over ``folded``. Terms of three
  or more characters go to ``MATCH`` as quoted phrases (a quoted FTS5 string is literal: ``"`` is
  doubled, nothing else is special); shorter terms — 1–2 character Chinese words are common — can't
  be trigram-matched and use ``LIKE`` over the circle's rows instead.
- PostgreSQL: ``LIKE`` on ``folded`` with a pg_trgm GIN index (``gin_trgm_ops`` serves LIKE for
  patterns of three or more characters; shorter ones scan the circle's rows).

``LIKE`` patterns come from Django's ``contains`` lookup, which escapes ``%``, ``_`` and ``\\``.
"""

from __future__ import annotations

from django.db import connection
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL

TRIGRAM = 3


class SearchBackend:
    vendor = ""

    def filter_matches(self, qs: QuerySet, terms: list[str]) -> QuerySet:
        for term in terms:
            qs = qs.filter(folded__contains=term)
        return qs


class SQLiteFTS5Backend(SearchBackend):
    vendor = "sqlite"

    @staticmethod
    def match_expression(terms: list[str]) -> str:
        return " AND ".join('"' + term.replace('"', '""') + '"' for term in terms)

    def filter_matches(self, qs: QuerySet, terms: list[str]) -> QuerySet:
        long_terms = [t for t in terms if len(t) >= TRIGRAM]
        if long_terms:
            qs = qs.filter(
                id__in=RawSQL("SELECT rowid FROM search_fts WHERE search_fts MATCH %s",
                              [self.match_expression(long_terms)])
            )
        for term in terms:
            if len(term) < TRIGRAM:
                qs = qs.filter(folded__contains=term)
        return qs


class PostgresTrigramBackend(SearchBackend):
    vendor = "postgresql"


def get_backend() -> SearchBackend:
    if connection.vendor == "sqlite":
        return SQLiteFTS5Backend()
    if connection.vendor == "postgresql":
        return PostgresTrigramBackend()
    return SearchBackend()  # plain LIKE: correct everywhere, indexed nowhere
