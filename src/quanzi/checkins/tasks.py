"""Check-in reminders: one deferred task per challenge and scheduled day, at the window's start.

No polling: creating (or re-timing) a challenge enqueues ``send_checkin_reminders`` with
``run_after`` = the next window start; each run sends, then enqueues the run for the next
scheduled day. A ``ReminderRun`` row per (challenge, day) makes a run idempotent: a duplicate
(a retry, or a second chain left by an edit) finds the row, sends nothing and schedules
nothing, so chains never multiply. A run whose day is no longer scheduled, or whose window
moved, stops too (the edit started a fresh chain).
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

from django.db import IntegrityError, transaction
from django.tasks import task
from django.utils import timezone, translation
from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)

NOTICE_CHUNK = 1000
EARLY_TOLERANCE = timedelta(seconds=5)


def schedule_next_reminder(challenge_id: int, *, now: datetime | None = None) -> datetime | None:
    """Enqueue the reminder for the next window that opens at or after ``now``; returns its time."""
    from quanzi.payments.tasks import schedule

    from .models import Challenge, ChallengeStatus
    from .schedule import Rules

    now = now or timezone.now()
    challenge = Challenge.objects.select_related("circle").filter(id=challenge_id).first()
    if challenge is None or challenge.status in (ChallengeStatus.SETTLING, ChallengeStatus.SETTLED):
        return None
    found = Rules.of(challenge, challenge.circle.timezone).next_window_open(max(now, timezone.now()))
    if found is None:
        Challenge.objects.filter(id=challenge_id).update(next_reminder_at=None)
        return None
    day, opens = found
    Challenge.objects.filter(id=challenge_id).update(next_reminder_at=opens)
    schedule(send_checkin_reminders, opens, challenge_id=challenge_id, day=day.isoformat(),
             opens=opens.isoformat())
    return opens


@task()
def send_checkin_reminders(*, challenge_id: int, day: str, opens: str = "") -> str:
    """Notify participants without a check-in for ``day`` (kind ``checkin_reminder``), then schedule the next day."""
    from quanzi.chat.actions import notify_many
    from quanzi.chat.models import NoticeKind

    from .events import CheckinEvent, emit_checkin_event
    from .models import Challenge, ChallengeStatus, ReminderRun
    from .schedule import Rules
    from .selectors import reminder_targets

    now = timezone.now()
    try:
        the_day = date.fromisoformat(day)
    except ValueError:
        return "bad_day"
    with transaction.atomic():
        challenge = Challenge.objects.select_for_update().select_related("circle").filter(id=challenge_id).first()
        if challenge is None or challenge.status in (ChallengeStatus.SETTLING, ChallengeStatus.SETTLED):
            return "skipped"
        clock = Rules.of(challenge, challenge.circle.timezone)
        window_opens, closes = clock.window(the_day)
        if not clock.is_scheduled(the_day) or (opens and opens != window_opens.isoformat()):
            return "stale"  # the rules changed; the edit scheduled a new chain
        if now < window_opens - EARLY_TOLERANCE:
            return "not_due"
        try:
            with transaction.atomic():
                run = ReminderRun.objects.create(challenge=challenge, day=the_day, created_at=now)
        except IntegrityError:
            return "duplicate"
        sent = 0
        if now < closes:
            circle = challenge.circle
            local_close = timezone.localtime(closes, clock.tz)
            with translation.override(circle.language):
                text = _("Check-in time for “%(title)s”: the window is open until %(time)s (%(tz)s).") % {
                    "title": challenge.title, "time": local_close.strftime("%H:%M"), "tz": circle.timezone}
            targets = list(reminder_targets(challenge, the_day).values_list("user_id", flat=True))
            for start in range(0, len(targets), NOTICE_CHUNK):
                chunk = targets[start: start + NOTICE_CHUNK]
                notify_many(chunk, circle_id=circle.id, kind=NoticeKind.CHECKIN_REMINDER, text=text)
            sent = len(targets)
        run.sent = sent
        run.save(update_fields=["sent"])
        emit_checkin_event(CheckinEvent.REMINDERS_SENT, circle=challenge.circle,
                           data={"challenge_id": challenge.id, "day": day, "sent": sent})
    schedule_next_reminder(challenge_id, now=window_opens + timedelta(seconds=1))
    return f"sent {sent}"
