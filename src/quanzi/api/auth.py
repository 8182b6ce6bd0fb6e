"""Who is calling: a bearer token (API clients) or the Django session (the web UI's fetches).

A bearer token that is present but unknown or revoked is refused outright (401) rather
than falling back to the session, so a client never silently acts as someone else.
Session-authenticated unsafe requests must carry the CSRF token, exactly as Django
forms do; bearer requests carry no ambient credential and need none.
"""

from __future__ import annotations

import hashlib
import time
import zoneinfo
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from ninja.security import APIKeyCookie, HttpBearer
from ninja.utils import check_csrf

from quanzi.accounts.models import User
from quanzi.accounts.selectors import user_for_token
from quanzi.core.errors import Forbidden, NotAuthenticated, RateLimited


class BearerTokenAuth(HttpBearer):
    """``Authorization: Bearer qz_…`` looked up by the token's hash."""

    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        user = user_for_token(token.strip())
        if user is None:
            raise NotAuthenticated(_("The bearer token is invalid or has been revoked."))
        request.user = user
        activate_preferences(request, user.timezone, user.language)
        return user


def activate_preferences(request: HttpRequest, zone: str, language: str) -> None:
    """What UserPreferencesMiddleware does for sessions: messages in the user's language and zone.

    (The middleware ran before the token was known.) An explicit Accept-Language wins.
    """
    try:
        timezone.activate(zoneinfo.ZoneInfo(zone))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        timezone.deactivate()
    if language and "HTTP_ACCEPT_LANGUAGE" not in request.META:
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()


class SessionAuth(APIKeyCookie):
    """The signed-in browser session; unsafe methods must pass Django's CSRF check."""

    param_name = settings.SESSION_COOKIE_NAME

    def _get_key(self, request: HttpRequest) -> str | None:
        # The CSRF check runs in ``authenticate`` so anonymous callers get a 401, not a 403.
        return request.COOKIES.get(self.param_name)

    def authenticate(self, request: HttpRequest, key: str | None) -> User | None:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        if self.csrf and not getattr(request, "_ninja_csrf_exempt", False) and check_csrf(request) is not None:
            raise Forbidden(_("CSRF check failed: send the X-CSRFToken header."), code="csrf_failed")
        return user


class _Anonymous:
    """Truthy stand-in so endpoints with optional auth still run for anonymous callers."""

    def __bool__(self) -> bool:
        return True


ANONYMOUS = _Anonymous()


def allow_anonymous(request: HttpRequest) -> Any:
    return ANONYMOUS


bearer_auth = BearerTokenAuth()
session_auth = SessionAuth()
DEFAULT_AUTH = [bearer_auth, session_auth]
OPTIONAL_AUTH = [bearer_auth, session_auth, allow_anonymous]


def current_user(request: HttpRequest) -> User:
    """The authenticated user of an endpoint that requires auth."""
    user = getattr(request, "auth", None)
    if not isinstance(user, User):
        raise NotAuthenticated(_("Sign in or send a valid bearer token."))
    return user


def optional_user(request: HttpRequest) -> User | None:
    user = getattr(request, "auth", None)
    return user if isinstance(user, User) else None


# --- password attempts --------------------------------------------------------------------

LOGIN_WINDOW_SECONDS = 300
LOGIN_FAILURES_PER_USERNAME = 5
LOGIN_FAILURES_PER_IP = 20


def _keys(kind: str, value: str) -> tuple[str, str]:
    digest = hashlib.sha256(value.encode()).hexdigest()[:32]
    return f"qz:api-login:{kind}:{digest}:n", f"qz:api-login:{kind}:{digest}:t"


def _client_ip(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR") or "unknown"


def _buckets(request: HttpRequest, username: str) -> list[tuple[str, str, int]]:
    return [
        ("user", username.strip().lower(), LOGIN_FAILURES_PER_USERNAME),
        ("ip", _client_ip(request), LOGIN_FAILURES_PER_IP),
    ]


def check_login_allowed(request: HttpRequest, username: str) -> None:
    """Refuse with 429 while a username or an address has too many recent failures."""
    now = time.time()
    for kind, value, limit in _buckets(request, username):
        count_key, start_key = _keys(kind, value)
        if (cache.get(count_key) or 0) >= limit:
            started = cache.get(start_key) or now
            raise RateLimited(
                _("Too many failed sign-in attempts; try again later."),
                retry_after=max(1.0, started + LOGIN_WINDOW_SECONDS - now),
                code="too_many_attempts",
            )


def record_login_failure(request: HttpRequest, username: str) -> None:
    now = time.time()
    for kind, value, _limit in _buckets(request, username):
        count_key, start_key = _keys(kind, value)
        cache.add(start_key, now, LOGIN_WINDOW_SECONDS)
        if not cache.add(count_key, 1, LOGIN_WINDOW_SECONDS):
            try:
                cache.incr(count_key)
            except ValueError:  # expired between add and incr
                cache.add(count_key, 1, LOGIN_WINDOW_SECONDS)


def clear_login_failures(request: HttpRequest, username: str) -> None:
    count_key, start_key = _keys("user", username.strip().lower())
    cache.delete_many([count_key, start_key])
