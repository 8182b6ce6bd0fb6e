"""Domain events of check-in challenges, recorded through ``quanzi.core.events``.

The event types live here (not in core's ``EventType``) so this app adds its own without
editing shared code; ``emit`` stores ``str(type)``. The check-in itself emits no stored
event: the check-in row is the record, and the rush path stays one insert + one update.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from quanzi.core.events import emit


class CheckinEvent(StrEnum):
    CHALLENGE_CREATED = "challenge.created"
    CHALLENGE_UPDATED = "challenge.updated"
    PARTICIPANT_JOINED = "challenge.joined"
    PARTICIPANT_LEFT = "challenge.left"
    SETTLED = "challenge.settled"
    MAKEUP = "challenge.makeup"
    REMINDERS_SENT = "challenge.reminders_sent"


def emit_checkin_event(type: CheckinEvent, *, circle: Any, actor_id: int | None = None,
                       data: dict[str, Any] | None = None) -> None:
    emit(type, circle=circle, actor_id=actor_id, data=data or {})  # type: ignore[arg-type]
