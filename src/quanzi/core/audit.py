"""Writing the audit log. Called by actions inside their transaction."""

from __future__ import annotations

from typing import Any

from quanzi.core.models import AuditEntry


def record(
    *,
    circle: Any,
    actor: Any | None,
    action: str,
    target_user: Any | None = None,
    target_repr: str = "",
    reason: str = "",
    data: dict[str, Any] | None = None,
) -> AuditEntry:
    if not target_repr and target_user is not None:
        target_repr = getattr(target_user, "username", str(target_user))
    return AuditEntry.objects.create(
        circle=circle,
        actor=actor,
        action=action,
        target_user=target_user,
        target_repr=target_repr[:255],
        reason=(reason or "")[:2000],
        data=data or {},
    )
