"""Who is on the other end of a WebSocket: session cookie (browsers) or bearer token (API clients)."""

from __future__ import annotations

from importlib import import_module
from urllib.parse import parse_qs

from channels.auth import AuthMiddleware
from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from channels.security.websocket import OriginValidator
from channels.sessions import CookieMiddleware
from django.conf import settings
from django.contrib.auth.models import AnonymousUser

from quanzi.accounts.credentials import session_credential, token_credential
from quanzi.accounts.selectors import active_token


def token_from_scope(scope) -> str | None:
    """A bearer token from ``Authorization: Bearer …`` or the ``token`` query parameter."""
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _sep, credentials = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and credentials.strip():
                return credentials.strip()
    query = scope.get("query_string", b"")
    if query:
        values = parse_qs(query.decode("latin-1")).get("token")
        if values:
            return values[0]
    return None


def _has_origin(scope) -> bool:
    return any(name == b"origin" for name, _value in scope.get("headers", ()))


class TokenOrSessionAuthMiddleware(AuthMiddleware):
    """A token, when given, decides alone (a bad token is anonymous, never the cookie's user)."""

    async def resolve_scope(self, scope) -> None:
        """Also names the credential used (``scope["quanzi_credential"]``) so that revoking
        the token or logging out the session can close this socket later."""
        raw = token_from_scope(scope)
        if raw is None:
            await super().resolve_scope(scope)
            session_key = getattr(scope.get("session"), "session_key", None)
            scope["quanzi_credential"] = session_credential(session_key) if session_key else None
            return
        token = await database_sync_to_async(active_token)(raw)
        scope["user"]._wrapped = token.user if token is not None else AnonymousUser()
        scope["quanzi_credential"] = token_credential(token.id) if token is not None else None


class SessionReadMiddleware(BaseMiddleware):
    """The handshake's Django session, read-only.

    Channels' SessionMiddleware wraps ``send`` to save modified sessions; a socket never
    changes the session, and that wrapper would sit on every frame the hub delivers.
    """

    async def __call__(self, scope, receive, send):
        store = import_module(settings.SESSION_ENGINE).SessionStore
        session = store(scope["cookies"].get(settings.SESSION_COOKIE_NAME))
        return await self.inner(dict(scope, session=session), receive, send)


def QuanziAuthMiddlewareStack(inner):  # noqa: N802 - named like Channels' AuthMiddlewareStack
    return CookieMiddleware(SessionReadMiddleware(TokenOrSessionAuthMiddleware(inner)))


class TokenAwareOriginValidator(OriginValidator):
    """Channels' origin check, except that a token client without an Origin header may connect.

    Browsers always send Origin on WebSocket handshakes, so a foreign page (cross-site
    WebSocket hijacking) is still refused. A request without Origin comes from a
    non-browser client; it is let through only with a bearer token, which such a
    client holds itself — no victim's cookie rides along.
    """

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket" and not _has_origin(scope) and token_from_scope(scope) is not None:
            return await self.application(scope, receive, send)
        return await super().__call__(scope, receive, send)


def AllowedHostsOriginValidator(application):  # noqa: N802 - mirrors channels.security.websocket
    allowed_hosts = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed_hosts:
        allowed_hosts = ["localhost", "127.0.0.1", "[::1]"]
    return TokenAwareOriginValidator(application, allowed_hosts)
