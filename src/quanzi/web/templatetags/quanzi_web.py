"""Template helpers for the web UI (no settings change needed for a context processor)."""

from __future__ import annotations

from django import template

from quanzi.chat.selectors import unread_notice_count

register = template.Library()


@register.simple_tag(takes_context=True)
def unread_notices(context) -> int:
    """Unread personal notices of the signed-in user, computed once per request."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return 0
    cached = getattr(request, "_quanzi_unread_notices", None)
    if cached is None:
        cached = unread_notice_count(user)
        request._quanzi_unread_notices = cached
    return cached


@register.filter
def initial_of(user) -> str:
    """The first letter of a user's name, for the avatar placeholder."""
    name = getattr(user, "name", "") or getattr(user, "username", "") or "?"
    return name[:1].upper()
