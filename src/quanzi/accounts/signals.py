"""Logging out ends the WebSockets opened with that session."""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_out
from django.dispatch import receiver

from quanzi.core.events import EventType, emit

from .credentials import session_credential


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
