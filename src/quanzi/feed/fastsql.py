# ruff: noqa: S608 - table and column names come from the models; every value is a query parameter.
"""The feed page's reads as a few hand-written statements instead of querysets.

The feed is the hottest read of the app (benchmarks/feed.py). Profiling a page showed the
time going into building querysets (filter/Q/compile: ~1.5-3 ms per query) rather than into the
database (well under 0.1 ms each on the partial index), as chat found for sending
(``chat.actions``). So a page runs these statements: table and column names come from the
models, parameters are adapted with the backend's own functions, rows read back are converted
the way the ORM converts them. The SQL is identical on SQLite and PostgreSQL; both answer the
row-value comparison ``(pinned, created_at, id) < (…)`` with a range scan of ``feed_post_stream``.

The visibility condition mirrors ``rules.post_filter`` (tests compare the two).
"""

from __future__ import annotations

import functools
import json
from datetime import datetime
from typing import Any, NamedTuple

from django.conf import settings
from django.db import connection

from quanzi.accounts.models import ApiToken, User
from quanzi.accounts.selectors import usable_token_sql
from quanzi.chat.models import ModerationState
from quanzi.circles.models import Circle, Membership

from .models import Post, PostAttachment, PostLike, PostTag, PostVisibility
from .rules import Viewer

POST_COLUMNS = (
    "id", "circle_id", "author_id", "title", "body", "body_html", "tags", "visibility", "plan_id",
    "moderation_state", "pinned", "featured", "like_count", "comment_count", "created_at", "edited_at",
    "deleted_at", "author__username", "author__display_name", "author__avatar", "liked",
)


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


@functools.cache
def _tables() -> dict[str, str]:
    from quanzi.archive.models import Blob, CircleFile

    return {
        "post": _q(Post._meta.db_table), "tag": _q(PostTag._meta.db_table), "like": _q(PostLike._meta.db_table),
        "attachment": _q(PostAttachment._meta.db_table), "file": _q(CircleFile._meta.db_table),
        "blob": _q(Blob._meta.db_table), "user": _q(User._meta.db_table),
        "membership": _q(Membership._meta.db_table),
    }


def db_datetime(value: Any, tz: Any = None) -> datetime | None:
    """A datetime read with a plain cursor, as the ORM returns it (SQLite hands back naive UTC).

    ``tz``: ``connection.timezone``, looked up once by a caller converting many rows (each lookup goes
    through the thread-local connection proxy).
    """
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None and settings.USE_TZ:
        return value.replace(tzinfo=tz or connection.timezone)  # what timezone.make_aware does for zoneinfo zones
    return value


def datetime_text(column: str) -> str:
    """``column``, a datetime, read as ISO text (``db_datetime`` parses it), not as a datetime.

    For values read on many rows but used once (the feed page's cursor key; the token's facts,
    repeated on each row of ``pagejson.bearer_page``): psycopg hands each datetime to Django's loader,
    a Python call per value (42 a page), while text is loaded in C. The database writes the same
    text either way. SQLite keeps datetimes as text already (``|| ''`` drops the declared type, so
    Django's converter is not called either).
    """
    return f"({column})::text" if connection.vendor == "postgresql" else f"{column} || ''"


def _tags(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):  # SQLite keeps JSON as text
        return [] if value == "[]" else json.loads(value)
    return list(value)


class Reader(NamedTuple):
    """All that a page's statement depends on about its reader: two viewers with equal readers get the same rows.

    (``Viewer`` has the same attributes; ``page_where`` reads only these.)
    """

    user_id: int
    moderator: bool
    plan_ids: frozenset[int]  # empty for moderators, who see every plan's posts


def reader_of(viewer: Viewer) -> Reader | None:
    """The viewer's ``Reader``, or None when the viewer may see no post (not an active member)."""
    if not viewer.active or viewer.user_id is None:
        return None
    return Reader(viewer.user_id, viewer.moderator, frozenset() if viewer.moderator else frozenset(viewer.plan_ids))


def _visibility_sql(viewer: Viewer | Reader, params: list) -> str:
    """The WHERE part of ``rules.post_filter`` for this viewer (empty for moderators)."""
    if viewer.moderator:
        return ""
    shown = "(p.moderation_state = %s AND (p.visibility = %s"
    params += [ModerationState.VISIBLE, PostVisibility.MEMBERS]
    plan_ids = sorted(viewer.plan_ids)
    if plan_ids:
        shown += f" OR (p.visibility = %s AND p.plan_id IN ({', '.join(['%s'] * len(plan_ids))}))"
        params += [PostVisibility.PLAN, *plan_ids]
    shown += "))"
    params += [viewer.user_id, ModerationState.REMOVED]
    return f" AND ({shown} OR (p.author_id = %s AND p.moderation_state <> %s))"


ORDER = "ORDER BY p.pinned DESC, p.created_at DESC, p.id DESC"


def page_where(circle_id: int, viewer: Viewer | Reader, params: list, *,
               after: tuple[bool, datetime, int] | None = None, featured: bool = False, tag: str | None = None,
               post_id: int | None = None) -> str:
    """The WHERE of a feed page (undeleted posts the viewer may see, after the cursor); appends its parameters.

    Shared by ``post_rows`` and ``pagejson`` (the API page built as JSON by the database).
    """
    params.append(circle_id)
    where = "p.circle_id = %s AND p.deleted_at IS NULL"
    if post_id is not None:
        where += " AND p.id = %s"
        params.append(post_id)
    if featured:
        where += " AND p.featured = %s"
        params.append(True)
    if tag:
        where += f" AND p.id IN (SELECT t.post_id FROM {_tables()['tag']} t WHERE t.circle_id = %s AND t.name = %s)"
        params += [circle_id, tag]
    if after is not None and not after[0]:
        # After an unpinned post, only unpinned posts follow: the same condition as the row comparison
        # below, written so that PostgreSQL estimates it from created_at. It judges a row comparison by
        # its first column, and "pinned < false" matches nothing: estimated at 1 row, the custom plan
        # looked far cheaper than the generic one, so every execution was planned anew (~0.7 ms).
        where += " AND p.pinned = %s AND (p.created_at, p.id) < (%s, %s)"
        params += [False, connection.ops.adapt_datetimefield_value(after[1]), after[2]]
    elif after is not None:
        where += " AND (p.pinned, p.created_at, p.id) < (%s, %s, %s)"
        params += [after[0], connection.ops.adapt_datetimefield_value(after[1]), after[2]]
    return where + _visibility_sql(viewer, params)


def liked_sql() -> str:
    """Whether the viewer (one parameter) liked post ``p``: the unique (post, user) index."""
    return f"EXISTS (SELECT 1 FROM {_tables()['like']} l WHERE l.post_id = p.id AND l.user_id = %s)"


PAGE_COLUMNS = ("p.id, p.circle_id, p.author_id, p.title, p.body, p.body_html, p.tags, p.visibility, p.plan_id,"
                " p.moderation_state, p.pinned, p.featured, p.like_count, p.comment_count, p.created_at,"
                " p.edited_at, p.deleted_at")


def page_sql(select: str, where: str, limit: int, *, joins: str = "", then: str = "",
             columns: str = PAGE_COLUMNS) -> str:
    """``select`` (over ``p``, the page's posts, and ``u``, their authors) for the posts matching ``where``.

    The page is cut (ORDER BY … LIMIT on the index) before the authors are joined: with the join in
    the same SELECT, PostgreSQL misjudged the row comparison as matching one row, hashed the whole
    rest of the circle into a join and sorted it (~150 ms a page at 100k posts instead of ~1 ms).
    ``joins`` are more joins to the page's rows, ``then`` more sort keys after the page's order,
    ``columns`` the posts' columns that ``select`` reads. Parameters: those of ``select``, then those of ``where``.

    The limit is written into the statement, not passed as a parameter: PostgreSQL plans a prepared
    statement once for all parameter values (a generic plan) when that plan looks no costlier than
    the custom ones, and with the limit unknown it guessed 1,683 rows and planned hash joins over
    whole tables (10 ms); it then kept planning each execution anew (0.3-0.7 ms of server CPU a page).
    With the limit known, the generic plan is the custom one (nested loops over 21 rows).
    """
    return f"SELECT {select} FROM {page_from(where, limit, joins=joins, columns=columns)} {ORDER}{then}"


def page_from(where: str, limit: int, *, joins: str = "", columns: str = PAGE_COLUMNS) -> str:
    """The FROM of ``page_sql``: the page's posts ``p`` (cut by ``ORDER`` and ``limit``), authors ``u``, ``joins``."""
    t = _tables()
    return (f"(SELECT {columns} FROM {t['post']} p WHERE {where} {ORDER} LIMIT {int(limit)}) p"
            f" LEFT JOIN {t['user']} u ON u.id = p.author_id{joins}")


def post_rows(circle_id: int, viewer: Viewer, *, after: tuple[bool, datetime, int] | None = None,
              limit: int, featured: bool = False, tag: str | None = None,
              post_id: int | None = None) -> list[dict[str, Any]]:
    """Undeleted posts the viewer may see, in feed order, with their authors (one statement).

    Whether the viewer liked each post is asked of the page's rows here too, not in a statement of
    its own: a round trip less per page.
    """
    params: list = [viewer.user_id]  # the select list's placeholder comes first
    where = page_where(circle_id, viewer, params, after=after, featured=featured, tag=tag, post_id=post_id)
    sql = page_sql(f"{PAGE_COLUMNS}, u.username, u.display_name, u.avatar, {liked_sql()}", where, limit)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        raw = cursor.fetchall()
    rows = []
    tz = connection.timezone
    for r in raw:
        row = dict(zip(POST_COLUMNS, r, strict=True))
        row["tags"] = _tags(row["tags"])
        row["pinned"], row["featured"], row["liked"] = bool(row["pinned"]), bool(row["featured"]), bool(row["liked"])
        row["created_at"], row["edited_at"] = db_datetime(row["created_at"], tz), db_datetime(row["edited_at"], tz)
        rows.append(row)
    return rows


ATTACHMENT_COLUMNS = ("post_id", "file__public_id", "file__name", "file__kind", "file__blob__size",
                      "file__blob__content_type", "file__thumbnail_id")


def attachment_rows(post_ids: list[int]) -> list[dict[str, Any]]:
    t = _tables()
    marks = ", ".join(["%s"] * len(post_ids))
    sql = (
        "SELECT a.post_id, f.public_id, f.name, f.kind, b.size, b.content_type, f.thumbnail_id"
        f" FROM {t['attachment']} a"
        f" JOIN {t['file']} f ON f.id = a.file_id JOIN {t['blob']} b ON b.id = f.blob_id"
        f" WHERE a.post_id IN ({marks}) AND f.deleted_at IS NULL ORDER BY a.post_id, a.position, a.id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, post_ids)
        return [dict(zip(ATTACHMENT_COLUMNS, r, strict=True)) for r in cursor.fetchall()]


def author_roles(circle_id: int, user_ids: list[int]) -> dict[int, str]:
    t = _tables()
    marks = ", ".join(["%s"] * len(user_ids))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT user_id, role FROM {t['membership']} WHERE circle_id = %s AND user_id IN ({marks})",
                       [circle_id, *user_ids])
        return dict(cursor.fetchall())


MEMBERSHIP_COLUMNS = ("id", "circle_id", "user_id", "role", "status", "muted_until", "paid_until", "plans")


def _held_plans_sql(user_col: str, circle_col: str, params: list, now: datetime) -> str:
    """The plan ids of paid, unrefunded orders whose granted period has not ended, comma-separated (or NULL)."""
    from quanzi.payments.models import Order, OrderStatus

    params += [OrderStatus.PAID, connection.ops.adapt_datetimefield_value(now)]
    ids = "string_agg(DISTINCT o.plan_id::text, ',')" if connection.vendor == "postgresql" else (
        "group_concat(DISTINCT o.plan_id)")
    return (f"(SELECT {ids} FROM {_q(Order._meta.db_table)} o WHERE o.user_id = {user_col}"
            f" AND o.circle_id = {circle_col} AND o.status = %s AND (o.granted_until IS NULL OR o.granted_until > %s))")


def membership_by_slug(slug: str, user_id: int, now: datetime) -> tuple[int, Membership, frozenset[int]] | None:
    """(circle id, the user's membership row, plans of their current orders) by the circle's slug, or None.

    One statement. The plans are what ``held_plan_ids`` reads, before ``rules.held_plans`` applies the
    membership's own state. Only the fast path of the API's feed page: None sends the caller to
    ``circles.access`` for the standard answer (a missing circle, an id instead of a slug, no membership).
    """
    params: list = []
    plans = _held_plans_sql("m.user_id", "m.circle_id", params, now)
    sql = (
        f"SELECT m.id, m.circle_id, m.user_id, m.role, m.status, m.muted_until, m.paid_until, {plans}"
        f" FROM {_q(Circle._meta.db_table)} c JOIN {_tables()['membership']} m ON m.circle_id = c.id"
        " WHERE c.slug = %s AND m.user_id = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, slug, user_id])
        row = cursor.fetchone()
    return None if row is None else _membership(row)


BEARER_COLUMNS = ("token_id", "last_used_at", "user_timezone", "user_language")

Bearer = tuple[dict[str, Any], int, Membership, frozenset[int]]


def bearer_select(key_hash: str, slug: str, now: datetime, params: list) -> str:
    """The statement of ``bearer_membership`` (appends its parameters); its columns are named ``b_*``.

    ``feed.pagejson.bearer_page`` joins the page to it, so it is a statement of its own here.
    """
    plans = _held_plans_sql("m.user_id", "m.circle_id", params, now)
    params += [key_hash, slug]
    usable = usable_token_sql(params)
    columns = ["t.id", datetime_text("t.last_used_at"), "u.timezone", "u.language", "m.id", "m.circle_id", "m.user_id",
               "m.role", "m.status", datetime_text("m.muted_until"), datetime_text("m.paid_until"), plans]
    return (
        f"SELECT {', '.join(f'{c} AS b_{i}' for i, c in enumerate(columns))}"
        f" FROM {_q(ApiToken._meta.db_table)} t JOIN {_tables()['user']} u ON u.id = t.user_id"
        f" JOIN {_tables()['membership']} m ON m.user_id = u.id"
        f" JOIN {_q(Circle._meta.db_table)} c ON c.id = m.circle_id"
        f" WHERE t.key_hash = %s AND c.slug = %s AND {usable}"
    )


BEARER_WIDTH = len(BEARER_COLUMNS) + len(MEMBERSHIP_COLUMNS)  # columns of ``bearer_select``


def bearer_membership(key_hash: str, slug: str, now: datetime) -> Bearer | None:
    """``membership_by_slug`` for the holder of a usable bearer token, found in the same statement.

    Returns (token facts: ``BEARER_COLUMNS``, circle id, membership, plans of current orders), or None
    when the token is unknown, revoked or its user inactive, the circle is missing or the user holds
    no membership in it: the caller then takes the standard path, which answers each of those.
    """
    params: list = []
    sql = bearer_select(key_hash, slug, now, params)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return None if row is None else bearer_from_row(row)


def bearer_from_row(row: tuple | list) -> Bearer:
    """What ``bearer_membership`` returns, from the first ``BEARER_WIDTH`` values of a row of ``bearer_select``."""
    split = len(BEARER_COLUMNS)
    token = dict(zip(BEARER_COLUMNS, row[:split], strict=True))
    token["last_used_at"] = db_datetime(token["last_used_at"])
    circle_id, membership, plans = _membership(row[split:BEARER_WIDTH])
    return token, circle_id, membership, plans


def _membership(row: tuple) -> tuple[int, Membership, frozenset[int]]:
    """(circle id, membership, plan ids) of a row in ``MEMBERSHIP_COLUMNS`` order."""
    values = dict(zip(MEMBERSHIP_COLUMNS, row, strict=True))
    values["muted_until"], values["paid_until"] = db_datetime(values["muted_until"]), db_datetime(values["paid_until"])
    names = [f.attname for f in Membership._meta.concrete_fields if f.attname in values]
    membership = Membership.from_db(connection.alias, names, [values[n] for n in names])
    return values["circle_id"], membership, _plan_ids(values["plans"])


def held_plan_ids(user_id: int, circle_id: int, now: datetime) -> frozenset[int]:
    """Plans of paid, unrefunded orders whose granted period has not ended (see ``rules.held_plan_ids``)."""
    params: list = [user_id, circle_id]  # the two placeholders come first in the statement
    sql = "SELECT " + _held_plans_sql("%s", "%s", params, now)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return _plan_ids(cursor.fetchone()[0])


def _plan_ids(value: str | None) -> frozenset[int]:
    """The ids ``_held_plans_sql`` aggregated ("3,7" or NULL)."""
    return frozenset(int(p) for p in str(value).split(",")) if value else frozenset()
