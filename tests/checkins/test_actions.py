"""Challenges, joining and check-ins through the actions, with ``now`` placed on the challenge's clock."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest

from quanzi.checkins import actions, selectors
from quanzi.checkins.models import Challenge, CheckIn, Participant
from quanzi.circles import actions as circle_actions
from quanzi.core.errors import Conflict, Forbidden, InvalidInput, NotFound

from .conftest import BEFORE, END, START, at

pytestmark = pytest.mark.django_db


def six(day: int, tz: str = "UTC"):
    """06:00 local on ``day`` March 2026 (inside the default 05:00–08:00 window)."""
    return at(tz, 2026, 3, day, 6, 0)


def nothing_stored(challenge) -> None:
    assert CheckIn.objects.filter(challenge=challenge).count() == 0
    assert not Participant.objects.filter(challenge=challenge, total_checkins__gt=0).exists()


# --- creating and editing ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"end_date": date(2026, 3, 1)}, "invalid_dates"),
        ({"window_start": time(6), "window_end": time(6)}, "invalid_window"),
        ({"weekdays": []}, "invalid_weekdays"),
        ({"weekdays": [7]}, "invalid_weekdays"),
        ({"deposit_amount": -1}, "invalid_deposit_amount"),
        ({"organiser_fee_bps": 10001}, "invalid_organiser_fee_bps"),
        ({"days_to_complete": 15}, "invalid_days_to_complete"),
        ({"days_to_complete": 0}, "invalid_days_to_complete"),
        ({"title": "  "}, "invalid_title"),
        ({"share_mode": "lottery"}, "invalid_share_mode"),
        # Only Saturdays between Monday 2 and Wednesday 4 March: no scheduled day at all.
        ({"end_date": date(2026, 3, 4), "weekdays": [5]}, "invalid_weekdays"),
    ],
)
def test_create_refuses_bad_rules(make_challenge, fields, code):
    with pytest.raises(InvalidInput) as exc:
        make_challenge(**fields)
    assert exc.value.code == code
    assert Challenge.objects.count() == 0


def test_days_to_complete_is_bounded_by_scheduled_days(make_challenge):
    challenge = make_challenge(weekdays=[0, 2, 4])  # 6 scheduled days in two weeks
    assert challenge.days_to_complete == 6
    with pytest.raises(InvalidInput):
        make_challenge(weekdays=[0, 2, 4], days_to_complete=7)


def test_only_admins_create(circle, member, moderator):
    for user in (member, moderator):
        with pytest.raises(Forbidden):
            actions.do_create_challenge(actor=user, circle=circle, title="x", start_date=START, end_date=END,
                                        window_start=time(5), window_end=time(8), now=BEFORE)


def test_edits_after_start_are_refused_except_wording(make_challenge, owner):
    challenge = make_challenge()
    started = six(2)
    with pytest.raises(Conflict) as exc:
        actions.do_update_challenge(actor=owner, challenge=challenge, window_end=time(9), now=started)
    assert exc.value.code == "challenge_started"
    actions.do_update_challenge(actor=owner, challenge=challenge, title="Earlier birds", now=started)
    challenge.refresh_from_db()
    assert challenge.title == "Earlier birds" and challenge.window_end == time(8)
    # Before the start anything goes (and is validated again).
    other = make_challenge()
    actions.do_update_challenge(actor=owner, challenge=other, window_end=time(9), weekdays=[0, 1], now=BEFORE)
    with pytest.raises(InvalidInput):
        actions.do_update_challenge(actor=owner, challenge=other, weekdays=[], now=BEFORE)


# --- joining ----------------------------------------------------------------------------


def test_late_joiner_is_refused(make_challenge, member):
    challenge = make_challenge()
    with pytest.raises(Conflict) as exc:
        actions.do_join_challenge(user=member, challenge=challenge, now=at("UTC", 2026, 3, 2, 5, 0))
    assert exc.value.code == "join_closed"
    assert "2026-03-02 05:00" in exc.value.message
    assert not Participant.objects.exists()
    actions.do_join_challenge(user=member, challenge=challenge, now=at("UTC", 2026, 3, 2, 4, 59))


def test_join_deadline_after_the_start(make_challenge, member, make_user, circle):
    challenge = make_challenge(join_deadline=at("UTC", 2026, 3, 4, 12, 0))
    actions.do_join_challenge(user=member, challenge=challenge, now=at("UTC", 2026, 3, 4, 11, 0))
    late = make_user("late")
    circle_actions.do_join_circle(user=late, circle=circle)
    with pytest.raises(Conflict):
        actions.do_join_challenge(user=late, challenge=challenge, now=at("UTC", 2026, 3, 4, 12, 0))


def test_join_twice_and_outsiders(make_challenge, member, outsider):
    challenge = make_challenge()
    actions.do_join_challenge(user=member, challenge=challenge, now=BEFORE)
    with pytest.raises(Conflict) as exc:
        actions.do_join_challenge(user=member, challenge=challenge, now=BEFORE)
    assert exc.value.code == "already_joined"
    with pytest.raises(Forbidden):
        actions.do_join_challenge(user=outsider, challenge=challenge, now=BEFORE)
    assert Participant.objects.count() == 1


def test_deposit_challenge_without_deposits_module_is_refused(make_challenge, member, monkeypatch):
    import sys

    challenge = make_challenge(deposit_amount=5000)
    monkeypatch.setitem(sys.modules, "quanzi.checkins.deposits", None)  # import fails as if absent
    with pytest.raises(Conflict) as exc:
        actions.do_join_challenge(user=member, challenge=challenge, now=BEFORE)
    assert exc.value.code == "deposits_unavailable"
    assert not Participant.objects.exists()


# --- checking in ------------------------------------------------------------------------


def test_check_in_inside_the_window_and_twice(make_challenge, joined):
    challenge = make_challenge()
    user = joined(challenge)
    checkin = actions.do_check_in(user=user, challenge_id=challenge.id, text="up", now=six(2))
    assert checkin.day == date(2026, 3, 2) and not checkin.is_makeup
    with pytest.raises(Conflict) as exc:
        actions.do_check_in(user=user, challenge_id=challenge.id, text="again", now=six(2) + timedelta(hours=1))
    assert exc.value.code == "already_checked_in"
    assert exc.value.status == 409
    assert CheckIn.objects.count() == 1
    p = Participant.objects.get(user=user)
    assert (p.total_checkins, p.current_streak, p.longest_streak, p.last_checkin_day) == (1, 1, 1, date(2026, 3, 2))


@pytest.mark.parametrize(
    ("when", "code"),
    [
        (at("UTC", 2026, 3, 2, 4, 59, 59), "not_started"),
        (at("UTC", 2026, 3, 3, 8, 0), "outside_window"),
        (at("UTC", 2026, 3, 3, 4, 0), "outside_window"),
        (at("UTC", 2026, 3, 16, 6, 0), "challenge_ended"),
        (at("UTC", 2026, 3, 15, 8, 0), "challenge_ended"),
    ],
)
def test_check_in_outside_the_window_stores_nothing(make_challenge, joined, when, code):
    challenge = make_challenge()
    user = joined(challenge)
    with pytest.raises(InvalidInput) as exc:
        actions.do_check_in(user=user, challenge_id=challenge.id, text="hi", now=when)
    assert exc.value.code == code
    nothing_stored(challenge)


def test_not_a_scheduled_weekday(make_challenge, joined):
    challenge = make_challenge(weekdays=[0, 2, 4])
    user = joined(challenge)
    with pytest.raises(InvalidInput) as exc:
        actions.do_check_in(user=user, challenge_id=challenge.id, now=six(3))  # Tuesday
    assert exc.value.code == "not_scheduled_day"
    nothing_stored(challenge)


def test_member_in_another_zone_checks_in_by_the_circles_clock(make_challenge, joined):
    challenge = make_challenge(tz="Asia/Shanghai")
    user = joined(challenge)
    user.timezone = "America/Los_Angeles"
    user.save()
    # 14:30 on 2 March in Los Angeles is 06:30 on 3 March in Shanghai.
    checkin = actions.do_check_in(user=user, challenge_id=challenge.id,
                                  now=at("America/Los_Angeles", 2026, 3, 2, 14, 30))
    assert checkin.day == date(2026, 3, 3)
    with pytest.raises(InvalidInput):  # 06:30 in Los Angeles is 22:30 in Shanghai
        actions.do_check_in(user=user, challenge_id=challenge.id, now=at("America/Los_Angeles", 2026, 3, 3, 6, 30))


def test_new_york_dst_change_inside_a_challenge(make_challenge, joined):
    challenge = make_challenge(tz="America/New_York")
    user = joined(challenge)
    # 7 March (EST): 05:00 local = 10:00 UTC; 8 March (EDT): 05:00 local = 09:00 UTC.
    with pytest.raises(InvalidInput):
        actions.do_check_in(user=user, challenge_id=challenge.id, now=at("UTC", 2026, 3, 7, 9, 30))
    actions.do_check_in(user=user, challenge_id=challenge.id, now=at("UTC", 2026, 3, 7, 10, 0))
    actions.do_check_in(user=user, challenge_id=challenge.id, now=at("UTC", 2026, 3, 8, 9, 0))
    with pytest.raises(InvalidInput):
        actions.do_check_in(user=user, challenge_id=challenge.id, now=at("UTC", 2026, 3, 9, 12, 0))  # 08:00 EDT
    assert Participant.objects.get(user=user).current_streak == 2


def test_window_across_midnight(make_challenge, joined):
    challenge = make_challenge(tz="Asia/Shanghai", window_start=time(22), window_end=time(2))
    user = joined(challenge)
    checkin = actions.do_check_in(user=user, challenge_id=challenge.id,
                                  now=at("Asia/Shanghai", 2026, 3, 3, 1, 30))
    assert checkin.day == date(2026, 3, 2)
    with pytest.raises(Conflict):
        actions.do_check_in(user=user, challenge_id=challenge.id, now=at("Asia/Shanghai", 2026, 3, 2, 23, 0))
    assert actions.do_check_in(user=user, challenge_id=challenge.id,
                               now=at("Asia/Shanghai", 2026, 3, 3, 22, 0)).day == date(2026, 3, 3)
    assert Participant.objects.get(user=user).current_streak == 2


def test_non_participant_and_outsider(make_challenge, member, outsider, owner):
    challenge = make_challenge()
    with pytest.raises(Forbidden) as exc:
        actions.do_check_in(user=member, challenge_id=challenge.id, now=six(2))
    assert exc.value.code == "not_participant"
    with pytest.raises(NotFound):
        actions.do_check_in(user=outsider, challenge_id=challenge.id, now=six(2))
    with pytest.raises(NotFound):
        actions.do_check_in(user=member, challenge_id=10**15, now=six(2))
    nothing_stored(challenge)


def test_kicked_participant_cannot_check_in(make_challenge, joined, owner, circle):
    challenge = make_challenge()
    user = joined(challenge)
    circle_actions.do_kick_member(actor=owner, circle=circle, user_id=user.id)
    with pytest.raises(NotFound):
        actions.do_check_in(user=user, challenge_id=challenge.id, now=six(2))


def test_content_requirements(make_challenge, joined):
    challenge = make_challenge(require_min_chars=5, require_image=True)
    user = joined(challenge)
    with pytest.raises(InvalidInput) as exc:
        actions.do_check_in(user=user, challenge_id=challenge.id, text="早起 打卡", now=six(2))  # 4 characters
    assert exc.value.code == "text_too_short"
    with pytest.raises(InvalidInput) as exc:
        actions.do_check_in(user=user, challenge_id=challenge.id, text="今天早起跑步", now=six(2))
    assert exc.value.code == "image_required"
    with pytest.raises(InvalidInput) as exc:
        actions.do_check_in(user=user, challenge_id=challenge.id, text="今天早起跑步", image="nope", now=six(2))
    assert exc.value.code == "file_not_found"
    nothing_stored(challenge)


def test_count_chars_is_cjk_aware():
    assert actions.count_chars("你好") == 2
    assert actions.count_chars("  a b\n") == 2
    assert actions.count_chars("e\u0301") == 1  # NFC: é


def test_streaks_over_scheduled_weekdays(make_challenge, joined):
    challenge = make_challenge(weekdays=[0, 2, 4])
    user = joined(challenge)
    for day in (2, 4, 6, 9):  # Mon, Wed, Fri, Mon
        actions.do_check_in(user=user, challenge_id=challenge.id, now=six(day))
    p = Participant.objects.get(user=user)
    assert (p.current_streak, p.longest_streak, p.total_checkins) == (4, 4, 4)
    actions.do_check_in(user=user, challenge_id=challenge.id, now=six(13))  # skipped Wednesday the 11th
    p.refresh_from_db()
    assert (p.current_streak, p.longest_streak, p.total_checkins) == (1, 4, 5)


# --- make-ups ---------------------------------------------------------------------------


def test_make_up_rejoins_the_streak(make_challenge, joined):
    challenge = make_challenge(makeups_allowed=1)
    user = joined(challenge)
    for day in (2, 3, 5, 6):
        actions.do_check_in(user=user, challenge_id=challenge.id, now=six(day))
    p = Participant.objects.get(user=user)
    assert (p.current_streak, p.longest_streak) == (2, 2)
    checkin = actions.do_make_up(user=user, challenge=challenge, day=date(2026, 3, 4), text="forgot",
                                 now=at("UTC", 2026, 3, 6, 9, 0))
    assert checkin.is_makeup
    p.refresh_from_db()
    assert (p.current_streak, p.longest_streak, p.total_checkins, p.makeups_used) == (5, 5, 5, 1)
    # The next day continues the rebuilt streak.
    actions.do_check_in(user=user, challenge_id=challenge.id, now=six(7))
    p.refresh_from_db()
    assert (p.current_streak, p.longest_streak) == (6, 6)
    with pytest.raises(Conflict) as exc:  # the allowance is used up
        actions.do_make_up(user=user, challenge=challenge, day=date(2026, 3, 8), now=at("UTC", 2026, 3, 9, 9, 0))
    assert exc.value.code == "no_makeups_left"


@pytest.mark.parametrize(
    ("day", "now", "code"),
    [
        (date(2026, 3, 5), at("UTC", 2026, 3, 5, 6, 0), "makeup_not_past"),  # window still open: check in instead
        (date(2026, 3, 6), at("UTC", 2026, 3, 5, 9, 0), "makeup_not_past"),  # future
        (date(2026, 3, 1), at("UTC", 2026, 3, 5, 9, 0), "not_scheduled_day"),  # before the start
        (date(2026, 3, 3), at("UTC", 2026, 3, 5, 9, 0), "not_scheduled_day"),  # Tuesday, not scheduled
        (date(2026, 3, 13), at("UTC", 2026, 3, 16, 9, 0), "challenge_ended"),
    ],
)
def test_make_up_refusals(make_challenge, joined, day, now, code):
    challenge = make_challenge(makeups_allowed=3, weekdays=[0, 2, 3, 4])
    user = joined(challenge)
    with pytest.raises(InvalidInput) as exc:
        actions.do_make_up(user=user, challenge=challenge, day=day, now=now)
    assert exc.value.code == code
    nothing_stored(challenge)


def test_make_up_not_before_joining_nor_twice(make_challenge, joined):
    challenge = make_challenge(makeups_allowed=3, join_deadline=at("UTC", 2026, 3, 5, 0, 0))
    user = joined(challenge, now=at("UTC", 2026, 3, 4, 12, 0))
    with pytest.raises(InvalidInput) as exc:
        actions.do_make_up(user=user, challenge=challenge, day=date(2026, 3, 3), now=at("UTC", 2026, 3, 5, 9, 0))
    assert exc.value.code == "makeup_before_join"
    actions.do_make_up(user=user, challenge=challenge, day=date(2026, 3, 4), now=at("UTC", 2026, 3, 5, 9, 0))
    with pytest.raises(Conflict) as exc:
        actions.do_make_up(user=user, challenge=challenge, day=date(2026, 3, 4), now=at("UTC", 2026, 3, 5, 9, 0))
    assert exc.value.code == "already_checked_in"
    p = Participant.objects.get(user=user)
    assert (p.makeups_used, p.total_checkins) == (1, 1)


# --- board, calendar, feed ----------------------------------------------------------------


def test_board_orders_first_and_lists_who_has_not(make_challenge, joined):
    challenge = make_challenge()
    a, b, c = (joined(challenge, n) for n in ("amy", "bob", "cat"))
    actions.do_check_in(user=b, challenge_id=challenge.id, now=at("UTC", 2026, 3, 2, 5, 1))
    actions.do_check_in(user=a, challenge_id=challenge.id, now=at("UTC", 2026, 3, 2, 5, 7))
    board = selectors.board(challenge, date(2026, 3, 2))
    assert [row.user.username for row in board.first] == ["bob", "amy"]
    assert [p.user.username for p in board.waiting] == ["cat"]
    assert (board.participants, board.checked_in, board.not_yet) == (3, 2, 1)
    assert selectors.board_day(challenge, at("UTC", 2026, 3, 2, 6, 0)) == date(2026, 3, 2)
    assert selectors.board_day(challenge, at("UTC", 2026, 3, 3, 4, 0)) == date(2026, 3, 2)
    assert selectors.board_day(challenge, BEFORE) == START


def test_board_counts_and_lists_only_current_members(make_challenge, joined, circle, owner):
    from quanzi.circles import actions as circle_actions

    challenge = make_challenge()
    amy, bob, cat, dan = (joined(challenge, n) for n in ("amy", "bob", "cat", "dan"))
    actions.do_check_in(user=amy, challenge_id=challenge.id, now=at("UTC", 2026, 3, 2, 5, 1))
    actions.do_check_in(user=bob, challenge_id=challenge.id, now=at("UTC", 2026, 3, 2, 5, 2))
    circle_actions.do_kick_member(actor=owner, circle=circle, user_id=bob.id)  # checked in, then kicked
    circle_actions.do_ban_member(actor=owner, circle=circle, user_id=cat.id)
    board = selectors.board(challenge, date(2026, 3, 2))
    assert [row.user.username for row in board.first] == ["amy", "bob"]  # what happened stays
    assert [p.user.username for p in board.waiting] == ["dan"]
    assert (board.participants, board.checked_in, board.not_yet) == (2, 1, 1)
    circle_actions.do_leave_circle(user=dan, circle=circle)
    board = selectors.board(challenge, date(2026, 3, 2))
    assert (board.participants, board.checked_in, board.not_yet, board.waiting) == (1, 1, 0, [])
    circle_actions.do_join_circle(user=dan, circle=circle)  # back in the circle: on the board again
    board = selectors.board(challenge, date(2026, 3, 2))
    assert [p.user.username for p in board.waiting] == ["dan"]
    assert (board.participants, board.not_yet) == (2, 1)


def test_board_pages(make_challenge, joined):
    challenge = make_challenge()
    users = [joined(challenge) for _ in range(5)]
    for i, user in enumerate(users[:3]):
        actions.do_check_in(user=user, challenge_id=challenge.id, now=at("UTC", 2026, 3, 2, 5, i))
    page = selectors.board(challenge, date(2026, 3, 2), limit=2)
    assert len(page.first) == 2 and page.first_has_more
    assert len(page.waiting) == 2 and page.waiting_after is None
    page2 = selectors.board(challenge, date(2026, 3, 2), limit=2, offset=2)
    assert len(page2.first) == 1 and not page2.first_has_more
    page = selectors.board(challenge, date(2026, 3, 2), limit=1)
    rest = selectors.board(challenge, date(2026, 3, 2), limit=1, waiting_after=page.waiting_after)
    assert page.waiting[0].id < rest.waiting[0].id


def test_calendar(make_challenge, joined):
    challenge = make_challenge(makeups_allowed=1)
    user = joined(challenge)
    actions.do_check_in(user=user, challenge_id=challenge.id, now=six(2))
    actions.do_make_up(user=user, challenge=challenge, day=date(2026, 3, 3), now=at("UTC", 2026, 3, 4, 9, 0))
    participant = Participant.objects.get(user=user)
    days = selectors.calendar(challenge, participant, now=at("UTC", 2026, 3, 5, 6, 0))
    states = [d.state for d in days]
    assert states[:6] == ["done", "makeup", "missed", "open", "upcoming", "upcoming"]
    assert len(days) == 14
    assert days[0].time.hour == 6


def test_likes_and_comments(make_challenge, joined, member, moderator, outsider):
    challenge = make_challenge()
    user = joined(challenge)
    checkin = actions.do_check_in(user=user, challenge_id=challenge.id, text="done", now=six(2))
    actions.do_like(user=member, checkin_id=checkin.id)
    actions.do_like(user=member, checkin_id=checkin.id)  # harmless twice
    assert CheckIn.objects.get(id=checkin.id).like_count == 1
    comment = actions.do_comment(user=member, checkin_id=checkin.id, text="加油!")
    with pytest.raises(InvalidInput):
        actions.do_comment(user=member, checkin_id=checkin.id, text="  ")
    with pytest.raises(NotFound):
        actions.do_comment(user=outsider, checkin_id=checkin.id, text="hi")
    rows, more = selectors.feed(challenge, member)
    assert rows[0].liked and rows[0].comment_list[0].text == "加油!" and not more
    with pytest.raises(Forbidden):
        actions.do_delete_comment(user=user, comment_id=comment.id)
    actions.do_delete_comment(user=moderator, comment_id=comment.id)
    actions.do_like(user=member, checkin_id=checkin.id, like=False)
    fresh = CheckIn.objects.get(id=checkin.id)
    assert (fresh.like_count, fresh.comment_count) == (0, 0)
