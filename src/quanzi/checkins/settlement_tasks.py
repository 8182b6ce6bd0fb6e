"""The deferred settlement run: one task per challenge at the close of its last day's window.

Scheduled when a challenge is created or re-timed (``schedule_settlement``), with
``run_after`` = :func:`quanzi.checkins.settlement.settle_after` (the circle's time zone). The run
is idempotent (``settlement.settle_challenge``): a duplicate finds the challenge settled; a run
that comes early because the dates moved later schedules itself again for the new end; a run
killed midway is completed by the next one (``quanzi manage settle_challenge <id>``).
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.tasks import task

logger = logging.getLogger(__name__)


def schedule_settlement(challenge_id: int) -> None:
    """Enqueue the settlement for after the challenge's last window (after the caller's commit)."""
    from quanzi.payments.tasks import schedule

    from .models import Challenge
    from .settlement import settle_after

    def enqueue() -> None:
        challenge = Challenge.objects.select_related("circle").filter(id=challenge_id).first()
        if challenge is not None:
            schedule(settle_challenge_task, settle_after(challenge), challenge_id=challenge_id)

    transaction.on_commit(enqueue, robust=True)


@task()
def settle_challenge_task(*, challenge_id: int) -> str:
    """Settle the challenge's deposits (see ``settlement``); ``settled``, ``already_settled`` or ``not_ended``."""
    from .settlement import settle_challenge

    result = settle_challenge(challenge_id)
    if result.status == "not_ended":  # the end moved later since this run was scheduled
        schedule_settlement(challenge_id)
    return result.status


_TIMING_FIELDS = frozenset({"end_date", "window_start", "window_end"})


def on_challenge_event(event) -> None:
    """Listener (registered in ``CheckinsConfig.ready``): a new or re-timed challenge gets its settlement run."""
    kind = str(event.type)
    data = event.data or {}
    if "challenge_id" not in data:
        return
    if kind == "challenge.created" or (kind == "challenge.updated" and _TIMING_FIELDS & set(data.get("fields", ()))):
        schedule_settlement(data["challenge_id"])
