"""Logging out ends the WebSockets opened with that session; a password change or reset ends
the WebSockets of all the user's sessions (other sessions are already invalid for HTTP)."""

from __future__ import annotations

from allauth.account.signals import password_changed, password_reset
from django.contrib.auth.signals import user_logged_out
from django.dispatch import receiver

from quanzi.core.events import EventType, emit

from .credentials import ALL_SESSIONS, session_credential


@receiver(user_logged_out, dispatch_uid="quanzi-logout-closes-sockets")
def close_sockets_of_session(sender, request, user, **kwargs) -> None:
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if user is None or not session_key:
        return
    emit(
        EventType.CREDENTIAL_REVOKED,
        circle=None,
        target_user_id=user.id,
        store=False,
        data={"credential": session_credential(session_key), "reason": "logout"},
    )


@receiver(password_changed, dispatch_uid="quanzi-password-change-closes-sockets")
@receiver(password_reset, dispatch_uid="quanzi-password-reset-closes-sockets")
def close_sockets_of_all_sessions(sender, request=None, user=None, **kwargs) -> None:
    if user is None:
        return
    emit(
        EventType.CREDENTIAL_REVOKED,
        circle=None,
        target_user_id=user.id,
        store=False,
        data={"credential": ALL_SESSIONS, "reason": "password_changed"},
    )
