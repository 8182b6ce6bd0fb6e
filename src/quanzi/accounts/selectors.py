"""Reads for accounts: bearer-token lookup (API and WebSocket auth) and the token list (API and web)."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import QuerySet
from django.utils import timezone

from .models import ApiToken, User, hash_token


def user_for_token(raw: str | None) -> User | None:
    """The active user a raw bearer token belongs to, or None."""
    token = active_token(raw)
    return token.user if token is not None else None


def active_token(raw: str | None) -> ApiToken | None:
    """The unrevoked token (with its active user) for a raw bearer value, or None."""
    if not raw or not raw.startswith(ApiToken.PREFIX) or len(raw) > 100:
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=hash_token(raw), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=5):
        ApiToken.objects.filter(id=token.id).update(last_used_at=now)
    return token


def api_tokens(user: User, *, include_revoked: bool) -> QuerySet[ApiToken]:
    """The user's API tokens, newest first; revoked ones only with ``include_revoked``."""
    qs = ApiToken.objects.filter(user=user).order_by("-id")
    return qs if include_revoked else qs.filter(revoked_at__isnull=True)
