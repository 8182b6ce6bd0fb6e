"""Reads for accounts: bearer-token lookup (API and WebSocket auth) and the token list (API and web)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import Model, QuerySet
from django.utils import timezone

from .models import ApiToken, User, hash_token

# ``last_used_at`` is informational (the token list shows it): written at most this often per token.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def user_for_token(raw: str | None) -> User | None:
    """The active user a raw bearer token belongs to, or None."""
    token = active_token(raw)
    return token.user if token is not None else None


# The lookup runs on every API call and WebSocket handshake. As a queryset it cost 1.4-1.9 ms of
# Python (building and compiling the query, select_related) against ~0.05 ms in the database, so it
# is one hand-written statement on the unique ``key_hash`` index, the user joined in. Nothing is
# cached between requests: a revoked token or a deactivated user is refused by the very next call.


@functools.cache
def _columns(model: type[Model]) -> tuple[list[str], list[str], list[tuple[Any, list[Callable]]]]:
    """(quoted columns, attnames, (column, converters) per column): what the ORM's compiler applies."""
    quoted, names, converters = [], [], []
    for f in model._meta.concrete_fields:
        col = f.get_col(model._meta.db_table)
        quoted.append(connection.ops.quote_name(f.column))
        names.append(f.attname)
        converters.append((col, connection.ops.get_db_converters(col) + col.get_db_converters(connection)))
    return quoted, names, converters


def _from_row(model: type[Model], values: tuple, names: list[str],
              converters: list[tuple[Any, list[Callable]]]) -> Any:
    converted = []
    for value, (col, funcs) in zip(values, converters, strict=True):
        for func in funcs:
            value = func(value, col, connection)
        converted.append(value)
    return model.from_db(connection.alias, names, converted)


def usable_token_sql(params: list) -> str:
    """The condition on ``t`` (the token) and ``u`` (its user) for a token that may authenticate.

    Also used by ``feed.fastsql.bearer_membership``, which looks the token up together with the feed's
    membership: both must refuse the same tokens.
    """
    params.append(True)
    return "t.revoked_at IS NULL AND u.is_active = %s"


@functools.cache
def _lookup_sql() -> str:
    q = connection.ops.quote_name
    t_cols, _n, _c = _columns(ApiToken)
    u_cols, _n, _c = _columns(User)
    select = ", ".join([f"t.{c}" for c in t_cols] + [f"u.{c}" for c in u_cols])
    return (
        f"SELECT {select} FROM {q(ApiToken._meta.db_table)} t"  # noqa: S608 - names from the models
        f" JOIN {q(User._meta.db_table)} u ON u.id = t.user_id"
        f" WHERE t.key_hash = %s AND {usable_token_sql([])}"
    )


def token_key_hash(raw: str | None) -> str | None:
    """What a raw bearer value is stored and looked up by, or None for a value no token can have.

    Tokens are 32 random bytes, so a plain SHA-256 (not a slow password KDF) is what they are stored
    and looked up by: there is nothing to brute-force, and the lookup must stay cheap.
    """
    if not raw or not raw.startswith(ApiToken.PREFIX) or len(raw) > 100:
        return None
    return hash_token(raw)


def active_token(raw: str | None) -> ApiToken | None:
    """The unrevoked token (with its active user) for a raw bearer value, or None."""
    key_hash = token_key_hash(raw)
    if key_hash is None:
        return None
    params: list = [key_hash]
    usable_token_sql(params)
    with connection.cursor() as cursor:
        cursor.execute(_lookup_sql(), params)
        row = cursor.fetchone()
    if row is None:
        return None
    _tq, t_names, t_conv = _columns(ApiToken)
    _uq, u_names, u_conv = _columns(User)
    split = len(t_names)
    token = _from_row(ApiToken, row[:split], t_names, t_conv)
    token.user = _from_row(User, row[split:], u_names, u_conv)
    token.last_used_at = note_token_use(token.id, token.last_used_at)
    return token


def token_use_due(last_used_at: datetime | None, now: datetime) -> bool:
    """Whether ``note_token_use`` would write: the token's use was last recorded a minute ago or more."""
    return last_used_at is None or now - last_used_at >= LAST_USED_RESOLUTION


def note_token_use(token_id: int, last_used_at: datetime | None) -> datetime | None:
    """Record a token's use at most once a minute; returns the (new) ``last_used_at``.

    The WHERE makes concurrent requests of one token write once per minute.
    """
    now = timezone.now()
    if not token_use_due(last_used_at, now):
        return last_used_at
    ops = connection.ops
    table = ops.quote_name(ApiToken._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET last_used_at = %s WHERE id = %s"  # noqa: S608 - names from the models
            " AND (last_used_at IS NULL OR last_used_at < %s)",
            [ops.adapt_datetimefield_value(now), token_id, ops.adapt_datetimefield_value(now - LAST_USED_RESOLUTION)],
        )
    return now


def api_tokens(user: User, *, include_revoked: bool) -> QuerySet[ApiToken]:
    """The user's API tokens, newest first; revoked ones only with ``include_revoked``."""
    qs = ApiToken.objects.filter(user=user).order_by("-id")
    return qs if include_revoked else qs.filter(revoked_at__isnull=True)
