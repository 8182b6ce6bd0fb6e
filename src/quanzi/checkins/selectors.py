"""Reads of challenges: lists, the daily board, a member's calendar, the feed.

Each read is a fixed number of queries whatever the challenge's size: counts are aggregates,
lists are pages served by indexes ((challenge, day, created_at, id) for the board, the UNIQUE
(participant, day) index for "not yet", (challenge, -id) for the feed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from quanzi.circles.models import Circle, Membership, MembershipStatus

from .models import Challenge, ChallengeStatus, CheckIn, CheckInComment, CheckInLike, Participant
from .schedule import Rules, live_streak

BOARD_PAGE = 50
FEED_PAGE = 20


def rules_of(challenge: Challenge) -> Rules:
    return Rules.of(challenge, challenge.circle.timezone)


def phase(challenge: Challenge, now: datetime | None = None) -> str:
    """What members see: open (not started), running, ended, settling, settled."""
    now = now or timezone.now()
    if challenge.status in (ChallengeStatus.SETTLING, ChallengeStatus.SETTLED, ChallengeStatus.DRAFT):
        return challenge.status
    clock = rules_of(challenge)
    if not clock.started(now):
        return ChallengeStatus.OPEN
    if clock.day_closed(challenge.end_date, now):
        return ChallengeStatus.ENDED
    return ChallengeStatus.RUNNING


def challenges_for_circle(circle: Circle) -> QuerySet[Challenge]:
    return (
        Challenge.objects.filter(circle=circle)
        .select_related("circle")
        .annotate(participant_total=Count("participants"))
        .order_by("-start_date", "-id")
    )


def participant_for(challenge: Challenge, user) -> Participant | None:
    if user is None or not user.is_authenticated:
        return None
    return Participant.objects.filter(challenge=challenge, user=user).first()


def board_day(challenge: Challenge, now: datetime | None = None) -> date:
    """The day a board shows by default: the open window's day, else the latest scheduled day begun."""
    now = now or timezone.now()
    clock = rules_of(challenge)
    day = clock.open_day(now)
    if day is not None:
        return day
    probe = min(clock.local(now).date(), challenge.end_date)
    while probe >= challenge.start_date:
        if clock.is_scheduled(probe) and clock.window(probe)[0] <= now:
            return probe
        probe = date.fromordinal(probe.toordinal() - 1)
    return clock.next_scheduled(challenge.start_date) or challenge.start_date


@dataclass
class Board:
    day: date
    participants: int
    checked_in: int
    first: list[CheckIn] = field(default_factory=list)  # who checked in, earliest first
    first_offset: int = 0
    first_has_more: bool = False
    waiting: list[Participant] = field(default_factory=list)  # who has not (yet), by join order
    waiting_after: int | None = None  # keyset cursor (participant id) for the next "not yet" page

    @property
    def not_yet(self) -> int:
        return self.participants - self.checked_in


def _still_member(challenge: Challenge) -> Exists:
    """The row's user is an active member of the challenge's circle (one probe of the unique index)."""
    return Exists(Membership.objects.filter(circle_id=challenge.circle_id, user_id=OuterRef("user_id"),
                                            status=MembershipStatus.ACTIVE))


def board(challenge: Challenge, day: date, *, offset: int = 0, limit: int = BOARD_PAGE,
          waiting_after: int = 0) -> Board:
    """The day's board in four queries: two counts, one page of check-ins, one page of absentees.

    Participants who left, were kicked or banned are not counted and not listed as "not yet" (their
    past check-ins stay in the list of who checked in); rejoining the circle brings them back.
    """
    still_member = _still_member(challenge)
    counts = Participant.objects.filter(challenge=challenge).filter(still_member).aggregate(n=Count("id"))
    checked = CheckIn.objects.filter(challenge=challenge, day=day).filter(still_member).aggregate(n=Count("id"))
    first = list(
        CheckIn.objects.filter(challenge=challenge, day=day)
        .select_related("user")
        .order_by("created_at", "id")[offset: offset + limit + 1]
    )
    has_more = len(first) > limit
    done_today = CheckIn.objects.filter(participant=OuterRef("pk"), day=day)
    waiting = list(
        Participant.objects.filter(challenge=challenge, id__gt=waiting_after)
        .filter(~Exists(done_today), still_member)
        .select_related("user")
        .order_by("id")[: limit + 1]
    )
    waiting_more = len(waiting) > limit
    waiting = waiting[:limit]
    return Board(
        day=day, participants=counts["n"], checked_in=checked["n"], first=first[:limit], first_offset=offset,
        first_has_more=has_more, waiting=waiting, waiting_after=waiting[-1].id if waiting_more else None,
    )


@dataclass
class CalendarDay:
    day: date
    state: str  # done, makeup, missed, open (window open now), upcoming, before_join
    checkin_id: int | None = None
    time: datetime | None = None


def calendar(challenge: Challenge, participant: Participant, now: datetime | None = None) -> list[CalendarDay]:
    """Every scheduled day with what happened (one query; bounded by the challenge's length)."""
    now = now or timezone.now()
    clock = rules_of(challenge)
    done = {
        row["day"]: row
        for row in CheckIn.objects.filter(participant=participant).values("day", "id", "created_at", "is_makeup")
    }
    joined = clock.local(participant.joined_at).date()
    days = []
    for day in clock.scheduled_days():
        row = done.get(day)
        if row is not None:
            state = "makeup" if row["is_makeup"] else "done"
            days.append(CalendarDay(day, state, row["id"], timezone.localtime(row["created_at"], clock.tz)))
            continue
        opens, closes = clock.window(day)
        if day < joined and closes <= now:
            state = "before_join"
        elif closes <= now:
            state = "missed"
        elif opens <= now:
            state = "open"
        else:
            state = "upcoming"
        days.append(CalendarDay(day, state))
    return days


def stats(challenge: Challenge, participant: Participant, now: datetime | None = None) -> dict[str, Any]:
    now = now or timezone.now()
    clock = rules_of(challenge)
    return {
        "current_streak": live_streak(clock, current=participant.current_streak,
                                      last_day=participant.last_checkin_day, now=now),
        "longest_streak": participant.longest_streak,
        "total_checkins": participant.total_checkins,
        "makeups_used": participant.makeups_used,
        "makeups_left": max(0, challenge.makeups_allowed - participant.makeups_used),
        "days_to_complete": challenge.days_to_complete,
        "scheduled_days": clock.scheduled_count(),
    }


def feed(
    challenge: Challenge, user, *, before: int | None = None, limit: int = FEED_PAGE
) -> tuple[list[CheckIn], bool]:
    """Check-in posts newest first (id cursor), each with ``liked`` by the viewer and its comments.

    Three queries per page: the posts (with author and files), the viewer's likes, the comments.
    """
    qs = CheckIn.objects.filter(challenge=challenge).select_related("user", "image", "voice").order_by("-id")
    if before:
        qs = qs.filter(id__lt=before)
    rows = list(qs[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    attach_social(rows, user)
    return rows, more


def attach_social(rows: list[CheckIn], user) -> None:
    ids = [row.id for row in rows]
    liked = set(CheckInLike.objects.filter(checkin_id__in=ids, user=user).values_list("checkin_id", flat=True)) \
        if ids and user is not None and user.is_authenticated else set()
    comments: dict[int, list[CheckInComment]] = {i: [] for i in ids}
    if ids:
        for comment in CheckInComment.objects.filter(checkin_id__in=ids).select_related("user").order_by("id"):
            comments[comment.checkin_id].append(comment)
    for row in rows:
        row.liked = row.id in liked
        row.comment_list = comments.get(row.id, [])


def my_challenge_ids(user, circle: Circle) -> set[int]:
    if user is None or not user.is_authenticated:
        return set()
    return set(Participant.objects.filter(user=user, challenge__circle=circle).values_list("challenge_id",
                                                                                            flat=True))


def reminder_targets(challenge: Challenge, day: date) -> QuerySet[Participant]:
    """Participants still members of the circle with no check-in for ``day``."""
    done = CheckIn.objects.filter(participant=OuterRef("pk"), day=day)
    return (
        Participant.objects.filter(challenge=challenge)
        .filter(~Exists(done))
        .filter(Q(user__memberships__circle_id=challenge.circle_id, user__memberships__status="active"))
    )
