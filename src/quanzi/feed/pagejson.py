# ruff: noqa: S608 - table and column names come from the models; every value is a query parameter.
"""The API's feed page as JSON text written by the database.

The API page is the hottest read (benchmarks/feed.py). Built in Python, each of its 20 posts went
from a row of 17 values to a dict, to another dict in the API's shape, and through ``json.dumps``:
about a third of the page's cost. Here one statement (the same WHERE, order, limit and author join
as ``fastsql.post_rows``) writes each post's plain fields and each attached file as JSON objects
(SQLite ``json_object``, PostgreSQL ``json_build_object``); the files are joined to the page's rows
(one row per file, in position order; a post without files gives one row), and so are the authors'
roles when the reader is a moderator (``can_delete`` depends on them). Python adds only what needs
Python: the author (avatar URLs come from the storage backend) and ``can_edit``/``can_delete``
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

# Sort keys and author columns read beside the JSON objects (for the cursor, the author and the flags).
# On SQLite created_at is read as text (an expression has no declared type, so Django's converter
# does not parse it on every row): only the last row's is used, for the cursor.
EXTRA_COLUMNS = "p.id, p.author_id, p.pinned, {created_at}, u.username, u.display_name, u.avatar"


def _sqlite_time(column: str) -> str:
    """SQLite keeps datetimes as naive UTC text, with ``.ffffff`` only when there are microseconds."""
    return (f"CASE WHEN {column} IS NULL THEN NULL WHEN length({column}) = 19 THEN replace({column}, ' ', 'T') || 'Z'"
            f" ELSE substr(replace({column}, ' ', 'T'), 1, 23) || 'Z' END")


def _postgres_time(column: str) -> str:
    """The same text from a ``timestamptz`` (the connection works in UTC): no fraction when it is zero."""
    utc = f"({column} AT TIME ZONE 'UTC')"
    return (f"CASE WHEN {column} IS NULL THEN NULL"
            f" WHEN mod(extract(microseconds FROM {utc})::bigint, 1000000) = 0"
            f" THEN to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
            f" ELSE to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') END")


@functools.cache
def _object_sql(vendor: str) -> str:
    """One post's plain fields as a JSON object (one parameter: the viewer, for ``liked``)."""
    liked = fastsql.liked_sql()
    if vendor == "postgresql":
        build, time = "json_build_object", _postgres_time
        tags = "CASE WHEN p.tags IS NULL OR jsonb_typeof(p.tags) = 'null' THEN '[]'::jsonb ELSE p.tags END"
        pinned, featured, liked_value = "p.pinned", "p.featured", liked
    else:  # SQLite: JSON is text, booleans are integers
        build, time = "json_object", _sqlite_time
        tags = "CASE WHEN p.tags IS NULL OR p.tags = 'null' THEN json('[]') ELSE json(p.tags) END"

        def boolean(condition: str) -> str:
            return f"json(CASE WHEN {condition} THEN 'true' ELSE 'false' END)"

        pinned, featured, liked_value = boolean("p.pinned"), boolean("p.featured"), boolean(liked)
    fields = [
        ("id", "p.id"), ("circle_id", "p.circle_id"), ("title", "p.title"), ("body", "p.body"),
        ("html", "p.body_html"), ("tags", tags), ("visibility", "p.visibility"), ("plan_id", "p.plan_id"),
        ("moderation_state", "p.moderation_state"), ("pinned", pinned), ("featured", featured),
        ("like_count", "p.like_count"), ("comment_count", "p.comment_count"), ("liked", liked_value),
        ("created_at", time("p.created_at")), ("edited_at", time("p.edited_at")),
    ]
    return _as_text(vendor, f"{build}({', '.join(f"'{name}', {value}" for name, value in fields)})")


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


def page_json(circle_id: int, viewer: Viewer, *, after: tuple[bool, datetime, int] | None, limit: int,
              featured: bool = False, tag: str | None = None) -> tuple[str, str | None]:
    """(the page's posts as a JSON array, the next page's cursor or None): ``selectors.feed_page`` as JSON.

    ``after`` and ``tag`` as ``selectors.page_arguments`` returns them.
    """
    limit = max(1, min(int(limit), selectors.MAX_PAGE))
    if not viewer.active:
        return "[]", None
    download, thumbnail = attachments.url_parts()
    params: list = [viewer.user_id, *download, *thumbnail]  # the select list's placeholders come first
    where = fastsql.page_where(circle_id, viewer, params, after=after, featured=featured, tag=tag)
    vendor = connection.vendor
    role = "r.role" if viewer.moderator else "NULL"
    extra = EXTRA_COLUMNS.format(created_at="p.created_at" if vendor == "postgresql" else "p.created_at || ''")
    sql = fastsql.page_sql(f"{_object_sql(vendor)}, {extra}, {role}, {_file_sql(vendor)}", where,
                           limit + 1, joins=_joins(viewer.moderator), then=", a.position, a.id")
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    posts: list[list] = []  # [post row, its files' JSON], in page order
    for row in rows:
        if not posts or posts[-1][0][1] != row[1]:
            posts.append([row, []])
        if row[9] is not None:
            posts[-1][1].append(row[9])
    more = len(posts) > limit
    posts = posts[:limit]
    if not posts:
        return "[]", None
    roles = {row[2]: row[8] for row, _files in posts if row[8] is not None}
    parts = []
    for (obj, _id, author_id, _pinned, _created, username, display_name, avatar, _role, _file), files in posts:
        author = _author_json(author_id, username, display_name, avatar)
        can_edit, can_delete = selectors.post_flags(author_id, viewer, roles)
        parts.append(f'{obj[:-1]},"author":{author},"attachments":[{",".join(files)}],'
                     f'"can_edit":{"true" if can_edit else "false"},"can_delete":{"true" if can_delete else "false"}}}')
    next_cursor = None
    if more:
        last = posts[-1][0]
        next_cursor = selectors.post_cursor(bool(last[3]), fastsql.db_datetime(last[4]), last[1])
    return f"[{','.join(parts)}]", next_cursor
