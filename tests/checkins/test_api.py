"""The check-in API: challenges, joining, checking in, board, calendar, feed, likes and comments."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from quanzi.checkins import actions
from quanzi.checkins.models import CheckIn, Participant
from quanzi.circles import actions as circle_actions

from .conftest import BEFORE, END, MON, START, SUN2

pytestmark = pytest.mark.django_db


def _join_before_start(challenge, user):
    """Members join before the first window opened (the live challenge started two days ago)."""
    actions.do_join_challenge(user=user, challenge=challenge, now=challenge.created_at)


def test_create_and_read_a_challenge(api_as, admin, member, circle):
    status, body = api_as(admin).call("POST", f"/api/circles/{circle.slug}/challenges", {
        "title": "晨跑", "start_date": MON.isoformat(), "end_date": SUN2.isoformat(), "weekdays": [0, 2, 4],
        "window_start": "05:00", "window_end": "08:00", "require_min_chars": 5, "makeups_allowed": 1,
    })
    assert status == 201, body
    assert body["scheduled_days"] == 6 and body["days_to_complete"] == 6 and body["weekdays"] == [0, 2, 4]
    assert body["timezone"] == "UTC" and body["phase"] == "open"
    status, listing = api_as(member).call("GET", f"/api/circles/{circle.slug}/challenges")
    assert status == 200 and listing["items"][0]["title"] == "晨跑"
    status, err = api_as(member).call("POST", f"/api/circles/{circle.slug}/challenges", {
        "title": "x", "start_date": MON.isoformat(), "end_date": SUN2.isoformat(), "window_start": "05:00",
        "window_end": "08:00"})
    assert (status, err["code"]) == (403, "insufficient_role")


@pytest.mark.parametrize(
    ("patch", "code"),
    [
        ({"end_date": (MON - timedelta(days=6)).isoformat()}, "invalid_dates"),
        ({"weekdays": []}, "invalid_weekdays"),
        ({"organiser_fee_bps": 10001}, "invalid_organiser_fee_bps"),
        ({"window_end": "05:00"}, "invalid_window"),
    ],
)
def test_create_refuses_bad_input_with_clear_codes(api_as, admin, circle, patch, code):
    body = {"title": "x", "start_date": MON.isoformat(), "end_date": SUN2.isoformat(), "window_start": "05:00",
            "window_end": "08:00", **patch}
    status, err = api_as(admin).call("POST", f"/api/circles/{circle.slug}/challenges", body)
    assert (status, err["code"]) == (400, code), err


def test_negative_deposit_is_a_validation_error(api_as, admin, circle):
    status, err = api_as(admin).call("POST", f"/api/circles/{circle.slug}/challenges", {
        "title": "x", "start_date": MON.isoformat(), "end_date": SUN2.isoformat(), "window_start": "05:00",
        "window_end": "08:00", "deposit_amount": -5})
    assert status == 422


def test_check_in_flow_over_the_api(api_as, live_challenge, member, make_user, circle):
    challenge = live_challenge(require_min_chars=4)
    _join_before_start(challenge, member)
    api = api_as(member)
    url = f"/api/challenges/{challenge.id}/checkins"
    status, err = api.call("POST", url, {"text": "早起"})
    assert (status, err["code"]) == (400, "text_too_short")
    status, body = api.call("POST", url, {"text": "早起跑步五公里"})
    assert status == 201, body
    status, err = api.call("POST", url, {"text": "早起跑步五公里"})
    assert (status, err["code"]) == (409, "already_checked_in")
    assert CheckIn.objects.count() == 1
    status, me = api.call("GET", f"/api/challenges/{challenge.id}")
    assert me["me"]["stats"]["total_checkins"] == 1 and me["me"]["stats"]["current_streak"] == 1
    status, board = api.call("GET", f"/api/challenges/{challenge.id}/board")
    assert status == 200 and board["checked_in"] == 1 and board["first"][0]["user"]["username"] == "member"
    status, cal = api.call("GET", f"/api/challenges/{challenge.id}/calendar")
    assert status == 200 and [d["state"] for d in cal["days"]][:3] == ["missed", "missed", "done"]
    # Another participant likes and comments; the feed shows both.
    other = make_user("other")
    circle_actions.do_join_circle(user=other, circle=circle)
    api2 = api_as(other)
    status, liked = api2.call("POST", f"/api/checkins/{body['id']}/like")
    assert status == 200 and liked["like_count"] == 1 and liked["liked"] is True
    status, comment = api2.call("POST", f"/api/checkins/{body['id']}/comments", {"text": "厉害"})
    assert status == 201
    status, feed = api.call("GET", f"/api/challenges/{challenge.id}/feed")
    assert feed["items"][0]["comments"][0]["text"] == "厉害" and feed["items"][0]["liked"] is False
    status, err = api.call("DELETE", f"/api/checkin-comments/{comment['id']}")
    assert (status, err["code"]) == (403, "not_author")
    assert api2.call("DELETE", f"/api/checkin-comments/{comment['id']}")[0] == 200
    assert api2.call("DELETE", f"/api/checkins/{body['id']}/like")[1]["like_count"] == 0


def test_check_in_refusals_store_nothing(api_as, live_challenge, member, outsider, make_challenge):
    challenge = live_challenge(require_image=True)
    status, err = api_as(member).call("POST", f"/api/challenges/{challenge.id}/checkins", {"text": "hi"})
    assert (status, err["code"]) == (403, "not_participant")
    _join_before_start(challenge, member)
    status, err = api_as(member).call("POST", f"/api/challenges/{challenge.id}/checkins", {"text": "hi"})
    assert (status, err["code"]) == (400, "image_required")
    status, err = api_as(outsider).call("POST", f"/api/challenges/{challenge.id}/checkins", {"text": "hi"})
    assert (status, err["code"]) == (404, "challenge_not_found")
    ended = make_challenge()  # March 2026: long over
    Participant.objects.create(challenge=ended, user=member, joined_at=BEFORE)
    status, err = api_as(member).call("POST", f"/api/challenges/{ended.id}/checkins", {"text": "hi"})
    assert (status, err["code"]) == (400, "challenge_ended")
    assert CheckIn.objects.count() == 0


def test_late_join_over_the_api(api_as, live_challenge, member):
    challenge = live_challenge()
    status, err = api_as(member).call("POST", f"/api/challenges/{challenge.id}/join")
    assert (status, err["code"]) == (409, "join_closed")
    assert not Participant.objects.exists()


def test_make_up_over_the_api(api_as, live_challenge, member):
    challenge = live_challenge(makeups_allowed=1)
    _join_before_start(challenge, member)
    yesterday = (challenge.start_date + timedelta(days=1)).isoformat()
    status, body = api_as(member).call("POST", f"/api/challenges/{challenge.id}/makeups",
                                       {"day": yesterday, "text": "补卡"})
    assert status == 201 and body["is_makeup"]
    status, err = api_as(member).call("POST", f"/api/challenges/{challenge.id}/makeups",
                                      {"day": challenge.start_date.isoformat()})
    assert (status, err["code"]) == (409, "no_makeups_left")


def test_edit_after_start_over_the_api(api_as, live_challenge, admin):
    challenge = live_challenge()
    status, err = api_as(admin).call("PATCH", f"/api/challenges/{challenge.id}", {"makeups_allowed": 3})
    assert (status, err["code"]) == (409, "challenge_started")
    status, body = api_as(admin).call("PATCH", f"/api/challenges/{challenge.id}", {"title": "New name"})
    assert status == 200 and body["title"] == "New name"


def test_board_and_calendar_query_counts_do_not_grow(live_challenge, member, make_user, circle):
    from quanzi.checkins import selectors

    def measure(n_members: int) -> tuple[int, int]:
        challenge = live_challenge()
        users = []
        for i in range(n_members):
            user = make_user(f"q{n_members}_{i}")
            circle_actions.do_join_circle(user=user, circle=circle)
            _join_before_start(challenge, user)
            users.append(user)
        for user in users[: n_members // 2]:
            actions.do_check_in(user=user, challenge_id=challenge.id, text="x")
        day = selectors.board_day(challenge)
        participant = Participant.objects.get(challenge=challenge, user=users[0])
        with CaptureQueriesContext(connection) as board_q:
            board = selectors.board(challenge, day)
            [row.user.name for row in board.first] + [p.user.name for p in board.waiting]
        with CaptureQueriesContext(connection) as cal_q:
            selectors.calendar(challenge, participant)
            selectors.feed(challenge, users[1])
        return len(board_q), len(cal_q)

    assert measure(3) == measure(30)


def test_the_check_in_is_one_read_one_insert_one_update(live_challenge, member):
    challenge = live_challenge()
    _join_before_start(challenge, member)
    with CaptureQueriesContext(connection) as queries:
        actions.do_check_in(user=member, challenge_id=challenge.id, text="hello")
    sql = [q["sql"].split()[0].upper() for q in queries.captured_queries]
    body = [s for s in sql if s not in ("SAVEPOINT", "RELEASE", "BEGIN", "COMMIT")]
    # PostgreSQL writes the row and the streak in one statement (WITH ins AS (INSERT …), … UPDATE …).
    assert body == (["SELECT", "WITH"] if connection.vendor == "postgresql" else ["SELECT", "INSERT", "UPDATE"]), sql


def test_ids_out_of_range_answer_404_or_422(api_as, member):
    assert api_as(member).call("GET", "/api/challenges/99999999999")[0] == 404
    assert api_as(member).call("POST", f"/api/challenges/{2**70}/checkins", {"text": ""})[0] == 422
    _ = (START, END, timezone)
