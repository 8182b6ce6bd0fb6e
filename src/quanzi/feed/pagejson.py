# ruff: noqa: S608 - table and column names come from the models; every value is a query parameter.
"""The API's feed page as JSON text written by the database.

The API page is the hottest read (benchmarks/feed.py). Built in Python, each of its 20 posts went
from a row of 17 values to a dict, to another dict in the API's shape, and through ``json.dumps``:
about a third of the page's cost. Here one statement (the same WHERE, order, limit and author join
as ``fastsql.post_rows``) reads each post's own fields as the JSON object the database keeps in
``Post.api_json`` (rendered by triggers on every write, migration feed 0002: building 20 objects
per page had been about a quarter of the database's CPU for a page) and writes each attached file as
a JSON object (SQLite ``json_object``, PostgreSQL ``json_build_object``); the files are joined to the page's rows
(one row per file, in position order; a post without files gives one row), and so are the authors'
roles when the reader is a moderator (``can_delete`` depends on them). Python adds only what needs
Python: the reader's ``liked``, the author (avatar URLs come from the storage backend) and ``can_edit``/``can_delete``
(``selectors.post_flags``, the rules' answer). A second statement per page was a round trip of its
own, which on PostgreSQL costs the server more than the query.

Same fields and values as ``selectors.post_dicts`` in the API's JSON encoding (datetimes as
``DjangoJSONEncoder`` writes them: milliseconds, ``Z``); a test compares the two for every kind of post.
"""

from __future__ import annotations

import functools
import json
from datetime import datetime

from django.db import connection

from . import attachments, fastsql, selectors
from .rules import Viewer


def _as_text(vendor: str, json_value: str) -> str:
    return f"{json_value}::text" if vendor == "postgresql" else json_value  # psycopg would parse json into dicts


@functools.cache
def _file_sql(vendor: str) -> str:
    """One attached file as a JSON object, or NULL (no file, or a deleted one); four parameters: URL parts."""
    build = "json_build_object" if vendor == "postgresql" else "json_object"
    fields = [
        ("id", "f.public_id"), ("name", "f.name"), ("kind", "f.kind"), ("size", "b.size"),
        ("content_type", "b.content_type"), ("url", "%s || f.public_id || %s"),
        ("thumbnail_url", "CASE WHEN f.thumbnail_id IS NULL THEN NULL ELSE %s || f.public_id || %s END"),
    ]
    obj = _as_text(vendor, f"{build}({', '.join(f"'{name}', {value}" for name, value in fields)})")
    return f"CASE WHEN f.id IS NULL THEN NULL ELSE {obj} END"


@functools.cache
def _joins(moderator: bool) -> str:
    """The page's files (deleted ones join as NULL), and for moderators the authors' memberships."""
    from quanzi.archive.models import Blob, CircleFile

    from .models import PostAttachment

    q = connection.ops.quote_name
    joins = (f" LEFT JOIN {q(PostAttachment._meta.db_table)} a ON a.post_id = p.id"
             f" LEFT JOIN {q(CircleFile._meta.db_table)} f ON f.id = a.file_id AND f.deleted_at IS NULL"
             f" LEFT JOIN {q(Blob._meta.db_table)} b ON b.id = f.blob_id")
    if moderator:
        membership = fastsql._tables()["membership"]
        joins += f" LEFT JOIN {membership} r ON r.circle_id = p.circle_id AND r.user_id = p.author_id"
    return joins


# One encoder for the page (``json.dumps`` with options builds a new one per call).
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


@functools.lru_cache(maxsize=4096)
def _author_json(author_id: int | None, username: str, display_name: str, avatar: str | None) -> str:
    """An author's JSON; the key is everything it is made of, so a renamed author is a new entry."""
    return _dumps(selectors.author_dict(author_id, username, display_name, avatar))


PAGE_FIELDS = ("j", "id", "author_id", "pinned", "created_at", "username", "display_name", "avatar", "author_role",
               "file", "a_position", "a_id", "liked")  # the names of ``_select``'s columns, in order
# What ``_select`` reads of the page's posts.
JSON_POST_COLUMNS = "p.id, p.circle_id, p.author_id, p.pinned, p.created_at, p.api_json"


@functools.cache
def _select(vendor: str, moderator: bool, *, sort_key: bool = False) -> str:
    """The page's columns (``PAGE_FIELDS``); with ``sort_key``, also ``p.created_at`` as ``sort_created``.

    The post's JSON object as the database keeps it (``Post.api_json``), then the sort keys and author
    columns read beside it (for the cursor, the author and the flags), each attached file as JSON, and
    whether the reader liked the post. created_at is read as text (``fastsql.datetime_text``): only the
    last row's is used, for the cursor. ``bearer_page`` sorts the page from outside, by ``sort_created``
    and the other named columns. Parameters: the four URL parts of ``_file_sql``, then the viewer (``liked``).
    """
    values = [
        "p.api_json", "p.id", "p.author_id", "p.pinned", fastsql.datetime_text("p.created_at"), "u.username",
        "u.display_name", "u.avatar", "r.role" if moderator else "NULL", _file_sql(vendor), "a.position", "a.id",
        fastsql.liked_sql(),
    ]
    columns = [f"{value} AS {name}" for value, name in zip(values, PAGE_FIELDS, strict=True)]
    if sort_key:
        columns.append("p.created_at AS sort_created")
    return ", ".join(columns)


OUTER_PAGE = ", ".join(f"pg.{name}" for name in PAGE_FIELDS)
OUTER_ORDER = "ORDER BY pg.pinned DESC, pg.sort_created DESC, pg.id DESC, pg.a_position, pg.a_id"


def _page_parts(circle_id: int, reader: fastsql.Reader, *, after: tuple[bool, datetime, int] | None,
                featured: bool, tag: str | None, sort_key: bool = False) -> tuple[str, list, str, list]:
    """(select list, its parameters, the page's WHERE, its parameters) for ``fastsql.page_sql``/``page_from``."""
    download, thumbnail = attachments.url_parts()
    where_params: list = []
    where = fastsql.page_where(circle_id, reader, where_params, after=after, featured=featured, tag=tag)
    select = _select(connection.vendor, reader.moderator, sort_key=sort_key)
    return select, [*download, *thumbnail, reader.user_id], where, where_params


def page_json(circle_id: int, viewer: Viewer, *, after: tuple[bool, datetime, int] | None, limit: int,
              featured: bool = False, tag: str | None = None) -> tuple[str, str | None]:
    """(the page's posts as a JSON array, the next page's cursor or None): ``selectors.feed_page`` as JSON.

    ``after`` and ``tag`` as ``selectors.page_arguments`` returns them.
    """
    limit = selectors.page_limit(limit)
    reader = fastsql.reader_of(viewer)
    if reader is None:
        return "[]", None
    select, select_params, where, where_params = _page_parts(circle_id, reader, after=after, featured=featured,
                                                             tag=tag)
    sql = fastsql.page_sql(select, where, limit + 1, joins=_joins(reader.moderator), then=", a.position, a.id",
                           columns=JSON_POST_COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute(sql, select_params + where_params)
        rows = cursor.fetchall()
    return page_result(rows, viewer, limit)


def bearer_page(key_hash: str, slug: str, now: datetime, circle_id: int, reader: fastsql.Reader, *,
                after: tuple[bool, datetime, int] | None, limit: int, featured: bool = False, tag: str | None = None
                ) -> tuple[fastsql.Bearer | None, list[tuple]]:
    """``fastsql.bearer_membership`` and the rows of the page ``reader`` would get in ``circle_id``: one statement.

    A round trip less than the two statements apart; on PostgreSQL each costs both processes CPU of
    its own. The page is read for the reader that the caller *expects* the token to have (the one it
    had on its previous page): the caller must use the rows only when the token's viewer turns out to
    have exactly that reader and circle (``fastsql.reader_of``), and otherwise read the page again
    with ``page_json``. Returns (None, []) when ``bearer_membership`` would return None; the rows go
    to ``page_result``.
    """
    sql, params = bearer_page_statement(key_hash, slug, now, circle_id, reader, after=after, limit=limit,
                                        featured=featured, tag=tag)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return bearer_page_rows(cursor.fetchall())


def bearer_page_statement(key_hash: str, slug: str, now: datetime, circle_id: int, reader: fastsql.Reader, *,
                          after: tuple[bool, datetime, int] | None, limit: int, featured: bool = False,
                          tag: str | None = None) -> tuple[str, list]:
    """The statement of ``bearer_page`` and its parameters (``api.asyncfeed`` runs it on an async connection)."""
    limit = selectors.page_limit(limit)
    select, select_params, where, where_params = _page_parts(circle_id, reader, after=after, featured=featured,
                                                             tag=tag, sort_key=True)
    rows_sql = fastsql.page_from(where, limit + 1, joins=_joins(reader.moderator), columns=JSON_POST_COLUMNS)
    bearer_params: list = []
    bearer = fastsql.bearer_select(key_hash, slug, now, bearer_params)
    # The bearer row comes once per page row (a page without posts joins as one row of NULLs). It is at
    # most one row anyway; LIMIT 1 keeps it a subquery of its own, so that the plans' aggregate runs once,
    # not once per page row as it did with the subquery merged into the join (PostgreSQL and SQLite).
    sql = (f"SELECT v.*, {OUTER_PAGE} FROM ({bearer} LIMIT 1) v"
           f" LEFT JOIN (SELECT {select} FROM {rows_sql}) pg ON 1 = 1 {OUTER_ORDER}")
    return sql, bearer_params + select_params + where_params


def bearer_page_rows(rows: list[tuple]) -> tuple[fastsql.Bearer | None, list[tuple]]:
    """``bearer_page``'s answer from the rows of ``bearer_page_statement``."""
    if not rows:
        return None, []
    width = fastsql.BEARER_WIDTH
    return fastsql.bearer_from_row(rows[0]), [row[width:] for row in rows if row[width + 1] is not None]


def page_result(rows: list[tuple], viewer: Viewer, limit: int) -> tuple[str, str | None]:
    """``page_json``'s answer from the rows of ``_select`` (one per attached file, in page order)."""
    limit = selectors.page_limit(limit)
    posts: list[tuple] = []  # each post's first row, in page order
    files: list[list[str]] = []  # its files' JSON
    last_id = None
    for row in rows:
        if row[1] != last_id:
            last_id = row[1]
            posts.append(row)
            files.append([])
        if row[9] is not None:
            files[-1].append(row[9])
    more = len(posts) > limit
    if not posts:
        return "[]", None
    del posts[limit:]
    roles = {row[2]: row[8] for row in posts if row[8] is not None} if viewer.moderator else {}
    parts = []
    for row, its_files in zip(posts, files, strict=False):
        author_id = row[2]
        can_edit, can_delete = selectors.post_flags(author_id, viewer, roles)
        parts.append(f'{row[0][:-1]},"liked":{"true" if row[12] else "false"},'
                     f'"author":{_author_json(author_id, row[5], row[6], row[7])},'
                     f'"attachments":[{",".join(its_files)}],"can_edit":{"true" if can_edit else "false"},'
                     f'"can_delete":{"true" if can_delete else "false"}}}')
    next_cursor = None
    if more:
        last = posts[-1]
        next_cursor = selectors.post_cursor(bool(last[3]), fastsql.db_datetime(last[4]), last[1])
    return f"[{','.join(parts)}]", next_cursor
