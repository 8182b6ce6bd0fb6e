"""The deferred settlement run: one task per challenge at the close of its last day's window.

Scheduled when a challenge is created or re-timed (``schedule_settlement``), with
``run_after`` = :func:`quanzi.checkins.settlement.settle_after` (the circle's time zone). The run
is idempotent (``settlement.settle_challenge``): a duplicate finds the challenge settled; a run
that comes early because the dates moved later schedules itself again for the new end. Before it
starts paying, a run queues a follow-up run ``RETRY_AFTER`` later: if the worker is killed midway
(SIGKILL, out of memory, a restart), the follow-up completes the payments (each member is paid
once: see ``settlement``); after a run that finished, the follow-up finds the challenge settled and
stops the chain. After ``MAX_ATTEMPTS`` follow-ups it logs an error for a person to look at
(``quanzi manage settle_challenge <id>`` runs it by hand).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction
from django.tasks import task
from django.utils import timezone

logger = logging.getLogger(__name__)

RETRY_AFTER = timedelta(minutes=15)
MAX_ATTEMPTS = 8


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
def settle_challenge_task(*, challenge_id: int, attempt: int = 0) -> str:
    """Settle the challenge's deposits (see ``settlement``); ``settled``, ``already_settled`` or ``not_ended``."""
    from quanzi.payments.tasks import schedule

    from .models import Challenge
    from .settlement import settle_after, settle_challenge
    from .settlement_models import Settlement, SettlementStatus

    challenge = Challenge.objects.select_related("circle").filter(id=challenge_id).first()
    if challenge is None:
        return "challenge_not_found"
    now = timezone.now()
    settled = Settlement.objects.filter(challenge_id=challenge_id, status=SettlementStatus.DONE).exists()
    if not settled and now >= settle_after(challenge):
        if attempt < MAX_ATTEMPTS:  # the watchdog, queued (and committed) before any payment
            schedule(settle_challenge_task, now + RETRY_AFTER, challenge_id=challenge_id, attempt=attempt + 1)
        else:
            logger.error("challenge %s: settlement still unfinished after %s runs; see `quanzi manage "
                         "settle_challenge %s`", challenge_id, attempt, challenge_id)
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
