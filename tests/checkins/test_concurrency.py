"""Real parallel check-ins on PostgreSQL: the UNIQUE (participant, day) constraint decides, streaks stay right."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import pytest
from django.conf import settings
from racing import outcomes, race

from quanzi.checkins import actions
from quanzi.checkins.models import CheckIn, Participant
from quanzi.core.errors import Conflict

from .conftest import at

pytestmark = [
    pytest.mark.skipif(not settings.IS_POSTGRES, reason="parallel writers need PostgreSQL (the second test pass)"),
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(90),
]


def test_200_parallel_check_ins_by_one_member_store_exactly_one(make_challenge, joined):
    challenge = make_challenge()
    user = joined(challenge)
    now = at("UTC", 2026, 3, 2, 6, 0)

    results = race(200, lambda i: actions.do_check_in(user=user, challenge_id=challenge.id, text=f"#{i}",
                                                      now=now + timedelta(milliseconds=i)))

    assert outcomes(results) == Counter({"ok": 1, "error:already_checked_in": 199}), outcomes(results)
    assert CheckIn.objects.filter(challenge=challenge).count() == 1
    p = Participant.objects.get(user=user)
    assert (p.total_checkins, p.current_streak, p.longest_streak) == (1, 1, 1)


def test_parallel_members_and_a_make_up_keep_streaks_consistent(make_challenge, joined):
    challenge = make_challenge(makeups_allowed=1)
    users = [joined(challenge) for _ in range(12)]
    for day in (2, 4):  # everyone checked in on the 2nd and 4th, nobody on the 3rd
        for user in users:
            actions.do_check_in(user=user, challenge_id=challenge.id, now=at("UTC", 2026, 3, day, 6, 0))

    def act(i: int):
        if i < len(users):
            return actions.do_check_in(user=users[i], challenge_id=challenge.id, now=at("UTC", 2026, 3, 5, 6, 0))
        # The first member also makes up the 3rd while checking in for the 5th.
        return actions.do_make_up(user=users[0], challenge=challenge, day=date(2026, 3, 3),
                                  now=at("UTC", 2026, 3, 5, 6, 0))

    results = race(len(users) + 1, act)

    assert outcomes(results) == Counter({"ok": len(users) + 1}), outcomes(results)
    first = Participant.objects.get(user=users[0])
    assert (first.total_checkins, first.current_streak, first.longest_streak) == (4, 4, 4)
    for user in users[1:]:
        p = Participant.objects.get(user=user)
        assert (p.total_checkins, p.current_streak, p.longest_streak) == (3, 2, 2)


def test_a_check_in_without_files_is_one_write_statement_on_postgresql(make_challenge, joined):
    """No BEGIN/COMMIT round trips: the row and the streak are one atomic statement (_CHECKIN_PG_SQL)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    challenge = make_challenge()
    user = joined(challenge)
    with CaptureQueriesContext(connection) as ctx:
        actions.do_check_in(user=user, challenge_id=challenge.id, text="早起", now=at("UTC", 2026, 3, 2, 6, 0))
    writes = [q["sql"] for q in ctx.captured_queries if not q["sql"].lstrip().upper().startswith("SELECT")]
    assert len(writes) == 1 and writes[0].lstrip().startswith("WITH ins AS"), writes
    p = Participant.objects.get(user=user)
    assert (p.total_checkins, p.current_streak, p.longest_streak) == (1, 1, 1)
    with pytest.raises(Conflict):
        actions.do_check_in(user=user, challenge_id=challenge.id, text="again", now=at("UTC", 2026, 3, 2, 6, 5))
    p.refresh_from_db()
    assert (p.total_checkins, p.current_streak) == (1, 1)  # the refused duplicate moved nothing
