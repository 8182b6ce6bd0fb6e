"""Reminders: one deferred task per challenge day at the window's start; idempotent by (challenge, day)."""

from __future__ import annotations

from datetime import date, time

import pytest
from django.utils import timezone

from quanzi.chat.models import Notice, NoticeKind
from quanzi.checkins import actions
from quanzi.checkins.models import ReminderRun
from quanzi.checkins.schedule import Rules
from quanzi.checkins.tasks import send_checkin_reminders

pytestmark = pytest.mark.django_db


def test_reminders_go_to_those_who_have_not_checked_in_once(live_challenge, joined, circle):
    challenge = live_challenge()
    early, late = joined(challenge, "early", now=challenge.created_at), joined(challenge, "late",
                                                                               now=challenge.created_at)
    actions.do_check_in(user=early, challenge_id=challenge.id, text="up")
    clock = Rules.of(challenge, circle.timezone)
    day = clock.open_day(timezone.now())
    opens = clock.window(day)[0].isoformat()

    result = send_checkin_reminders.call(challenge_id=challenge.id, day=day.isoformat(), opens=opens)

    assert result == "sent 1"
    notices = Notice.objects.filter(kind=NoticeKind.CHECKIN_REMINDER)
    assert [n.user_id for n in notices] == [late.id]
    assert "Early birds" in notices[0].text
    # A duplicate run (retry, second chain) sends nothing more.
    assert send_checkin_reminders.call(challenge_id=challenge.id, day=day.isoformat(), opens=opens) == "duplicate"
    assert notices.count() == 1
    assert ReminderRun.objects.get(challenge=challenge, day=day).sent == 1


def test_a_run_for_a_day_no_longer_scheduled_or_moved_sends_nothing(live_challenge, joined, owner):
    challenge = live_challenge()
    joined(challenge, now=challenge.created_at)
    clock = Rules.of(challenge, challenge.circle.timezone)
    day = clock.open_day(timezone.now())
    assert send_checkin_reminders.call(challenge_id=challenge.id, day=day.isoformat(),
                                       opens="2000-01-01T00:00:00+00:00") == "stale"
    assert send_checkin_reminders.call(challenge_id=challenge.id, day="not-a-day") == "bad_day"
    assert send_checkin_reminders.call(challenge_id=10**12, day=day.isoformat()) == "skipped"
    assert not Notice.objects.filter(kind=NoticeKind.CHECKIN_REMINDER).exists()


def test_an_early_run_is_not_due(make_challenge, joined):
    challenge = make_challenge(start_date=date(2099, 1, 5), end_date=date(2099, 1, 10))
    joined(challenge)
    assert send_checkin_reminders.call(challenge_id=challenge.id, day="2099-01-05") == "not_due"
    assert not ReminderRun.objects.exists()


def test_creating_a_challenge_schedules_the_first_window_and_each_run_the_next(
    settings, make_challenge, joined, django_capture_on_commit_callbacks
):
    from django_tasks_db.models import DBTaskResult

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
    with django_capture_on_commit_callbacks(execute=True):
        challenge = make_challenge(start_date=date(2099, 1, 5), end_date=date(2099, 1, 18), weekdays=[0, 2],
                                   window_start=time(5, 30), window_end=time(7, 0), tz="Asia/Shanghai")
    rows = [r for r in DBTaskResult.objects.all() if r.task_path.endswith("send_checkin_reminders")]
    assert len(rows) == 1
    assert rows[0].args_kwargs["kwargs"]["day"] == "2099-01-05"
    assert rows[0].run_after.isoformat() == "2099-01-04T21:30:00+00:00"  # 05:30 in Shanghai
    challenge.refresh_from_db()
    assert challenge.next_reminder_at == rows[0].run_after
