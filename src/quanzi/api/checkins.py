"""REST operations of the checkins app: challenges, joining, check-ins, boards, calendars, the feed.

Times are ISO datetimes (UTC offsets included); ``day`` values are local dates in the circle's
time zone and ``window_start``/``window_end`` local times there (``timezone`` says which).
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status

from quanzi.chat.selectors import user_brief
from quanzi.checkins import actions, selectors
from quanzi.checkins.access import access_challenge
from quanzi.checkins.models import Challenge, CheckIn, CheckInComment, Participant
from quanzi.checkins.schedule import mask_to_weekdays
from quanzi.core.errors import InvalidInput, NotFound
from quanzi.core.ids import as_db_id

from .auth import current_user
from .circles import member_circle
from .schemas import Cursor, Id, OkOut, PageParams, UserBrief, errors_for

router = Router(tags=["checkins"])


# --- shapes -------------------------------------------------------------------------------


class ChallengeIn(Schema):
    title: str = Field(..., max_length=500)
    description: str = Field("", max_length=10000)
    start_date: date
    end_date: date
    weekdays: list[int] = Field(default_factory=lambda: list(range(7)), max_length=7,
                                description="0 = Monday … 6 = Sunday; all seven = every day.")
    window_start: time = Field(..., description="Local time in the circle's time zone.")
    window_end: time = Field(..., description="Local time; earlier than the start = the window crosses midnight.")
    require_min_chars: int = Field(0, ge=0, le=100000)
    require_image: bool = False
    require_voice: bool = False
    makeups_allowed: int = Field(0, ge=0, le=100000)
    days_to_complete: int | None = Field(None, ge=1, le=100000, description="Default: every scheduled day.")
    join_deadline: datetime | None = None
    deposit_amount: int = Field(0, ge=0, le=10**12, description="Minor units of the circle's currency.")
    share_mode: str = "even"
    organiser_fee_bps: int = Field(0, ge=0, le=100000)


class ChallengePatch(Schema):
    title: str | None = Field(None, max_length=500)
    description: str | None = Field(None, max_length=10000)
    start_date: date | None = None
    end_date: date | None = None
    weekdays: list[int] | None = Field(None, max_length=7)
    window_start: time | None = None
    window_end: time | None = None
    require_min_chars: int | None = Field(None, ge=0, le=100000)
    require_image: bool | None = None
    require_voice: bool | None = None
    makeups_allowed: int | None = Field(None, ge=0, le=100000)
    days_to_complete: int | None = Field(None, ge=1, le=100000)
    join_deadline: datetime | None = None
    deposit_amount: int | None = Field(None, ge=0, le=10**12)
    share_mode: str | None = None
    organiser_fee_bps: int | None = Field(None, ge=0, le=100000)


class StreakStatsOut(Schema):
    current_streak: int
    longest_streak: int
    total_checkins: int
    makeups_used: int
    makeups_left: int
    days_to_complete: int
    scheduled_days: int


class ParticipationOut(Schema):
    joined_at: datetime
    deposit_paid: int
    outcome: str
    settled_amount: int | None = None
    stats: StreakStatsOut


class ChallengeOut(Schema):
    id: int
    circle_id: int
    title: str
    description: str
    start_date: date
    end_date: date
    weekdays: list[int]
    window_start: time
    window_end: time
    timezone: str
    require_min_chars: int
    require_image: bool
    require_voice: bool
    makeups_allowed: int
    days_to_complete: int
    scheduled_days: int
    join_deadline: datetime
    deposit_amount: int
    currency: str
    share_mode: str
    organiser_fee_bps: int
    status: str
    phase: str
    participant_total: int
    created_at: datetime
    me: ParticipationOut | None = None


class ChallengeList(Schema):
    items: list[ChallengeOut]
    total: int


class CheckInIn(Schema):
    text: str = Field("", max_length=20000)
    image: str | None = Field(None, max_length=64, description="public_id of an image uploaded to the circle.")
    voice: str | None = Field(None, max_length=64, description="public_id of a voice note uploaded to the circle.")


class MakeUpIn(CheckInIn):
    day: date


class FileRef(Schema):
    id: str
    name: str


class CheckinCommentOut(Schema):
    id: int
    checkin_id: int
    user: UserBrief
    text: str
    created_at: datetime


class CheckInOut(Schema):
    id: int
    challenge_id: int
    user: UserBrief | None = None
    day: date
    created_at: datetime
    local_time: str = Field(description="HH:MM in the circle's time zone.")
    text: str
    image: FileRef | None = None
    voice: FileRef | None = None
    is_makeup: bool
    like_count: int
    comment_count: int
    liked: bool | None = None
    comments: list[CheckinCommentOut] | None = None


class CheckInCreated(Schema):
    id: int
    day: date
    created_at: datetime
    is_makeup: bool


class BoardRow(Schema):
    rank: int
    user: UserBrief
    checkin_id: int
    created_at: datetime
    local_time: str


class WaitingRow(Schema):
    user: UserBrief
    participant_id: int


class BoardOut(Schema):
    day: date
    timezone: str
    participants: int
    checked_in: int
    not_yet: int
    first: list[BoardRow]
    first_has_more: bool
    waiting: list[WaitingRow]
    waiting_after: int | None = Field(None, description="Pass as waiting_after for the next page of absentees.")


class CalendarRow(Schema):
    day: date
    state: str
    checkin_id: int | None = None
    local_time: str | None = None


class CalendarOut(Schema):
    user: UserBrief
    stats: StreakStatsOut
    days: list[CalendarRow]


class FeedOut(Schema):
    items: list[CheckInOut]
    has_more: bool
    next_before: int | None = None


class CommentIn(Schema):
    text: str = Field(..., max_length=10000)


# --- serialisers --------------------------------------------------------------------------


def challenge_out(challenge: Challenge, *, participant: Participant | None = None,
                  participant_total: int | None = None) -> dict[str, Any]:
    clock = selectors.rules_of(challenge)
    if participant_total is None:
        participant_total = getattr(challenge, "participant_total", None)
        if participant_total is None:
            participant_total = challenge.participants.count()
    me = None
    if participant is not None:
        me = {"joined_at": participant.joined_at, "deposit_paid": participant.deposit_paid,
              "outcome": participant.outcome, "settled_amount": participant.settled_amount,
              "stats": selectors.stats(challenge, participant)}
    return {
        "id": challenge.id, "circle_id": challenge.circle_id, "title": challenge.title,
        "description": challenge.description, "start_date": challenge.start_date, "end_date": challenge.end_date,
        "weekdays": mask_to_weekdays(challenge.weekdays), "window_start": challenge.window_start,
        "window_end": challenge.window_end, "timezone": challenge.circle.timezone,
        "require_min_chars": challenge.require_min_chars, "require_image": challenge.require_image,
        "require_voice": challenge.require_voice, "makeups_allowed": challenge.makeups_allowed,
        "days_to_complete": challenge.days_to_complete, "scheduled_days": clock.scheduled_count(),
        "join_deadline": actions.join_deadline(challenge), "deposit_amount": challenge.deposit_amount,
        "currency": challenge.currency, "share_mode": challenge.share_mode,
        "organiser_fee_bps": challenge.organiser_fee_bps, "status": challenge.status,
        "phase": selectors.phase(challenge), "participant_total": participant_total,
        "created_at": challenge.created_at, "me": me,
    }


def _file(f) -> dict | None:
    return {"id": f.public_id, "name": f.name} if f is not None else None


def _local(dt: datetime, challenge: Challenge) -> str:
    return dt.astimezone(selectors.rules_of(challenge).tz).strftime("%H:%M")


def comment_out(comment: CheckInComment) -> dict[str, Any]:
    return {"id": comment.id, "checkin_id": comment.checkin_id, "user": user_brief(comment.user),
            "text": comment.text, "created_at": comment.created_at}


def checkin_out(checkin: CheckIn, challenge: Challenge) -> dict[str, Any]:
    return {
        "id": checkin.id, "challenge_id": checkin.challenge_id,
        "user": user_brief(checkin.user) if checkin.user else None, "day": checkin.day,
        "created_at": checkin.created_at, "local_time": _local(checkin.created_at, challenge),
        "text": checkin.text, "image": _file(checkin.image), "voice": _file(checkin.voice),
        "is_makeup": checkin.is_makeup, "like_count": checkin.like_count, "comment_count": checkin.comment_count,
        "liked": getattr(checkin, "liked", None),
        "comments": [comment_out(c) for c in getattr(checkin, "comment_list", [])],
    }


def _challenge_detail(challenge: Challenge, user) -> dict[str, Any]:
    return challenge_out(challenge, participant=selectors.participant_for(challenge, user))


def _fields(payload: Schema, *, exclude_unset: bool) -> dict[str, Any]:
    return payload.dict(exclude_unset=exclude_unset)


# --- challenges ---------------------------------------------------------------------------


@router.get("/circles/{slug}/challenges", response=errors_for({200: ChallengeList}))
def list_challenges(request: HttpRequest, slug: str):
    """The circle's challenges, newest first (members)."""
    circle, _m = member_circle(request, slug)
    items = [challenge_out(c) for c in selectors.challenges_for_circle(circle)[:200]]
    return {"items": items, "total": len(items)}


@router.post("/circles/{slug}/challenges", response=errors_for({201: ChallengeOut}))
def create_challenge(request: HttpRequest, slug: str, payload: ChallengeIn):
    """Admins: a new challenge (open for joining until the first window opens or the join deadline)."""
    user = current_user(request)
    circle, _m = member_circle(request, slug)
    challenge = actions.do_create_challenge(actor=user, circle=circle, **_fields(payload, exclude_unset=False))
    return Status(201, challenge_out(challenge, participant_total=0))


@router.get("/challenges/{challenge_id}", response=errors_for({200: ChallengeOut}))
def get_challenge(request: HttpRequest, challenge_id: Id):
    user = current_user(request)
    challenge, _m = access_challenge(challenge_id, user)
    return _challenge_detail(challenge, user)


@router.patch("/challenges/{challenge_id}", response=errors_for({200: ChallengeOut}))
def update_challenge(request: HttpRequest, challenge_id: Id, payload: ChallengePatch):
    """Admins. After the first window opened only title and description may change (409 challenge_started)."""
    user = current_user(request)
    challenge, _m = access_challenge(challenge_id, user)
    fields = {k: v for k, v in _fields(payload, exclude_unset=True).items()
              if v is not None or k == "join_deadline"}
    challenge = actions.do_update_challenge(actor=user, challenge=challenge, **fields)
    return _challenge_detail(challenge, user)


@router.post("/challenges/{challenge_id}/join", response=errors_for({200: ChallengeOut}))
def join_challenge(request: HttpRequest, challenge_id: Id):
    """Join (paying the deposit from your wallet if the challenge has one). Twice → 409 already_joined."""
    user = current_user(request)
    challenge, _m = access_challenge(challenge_id, user)
    actions.do_join_challenge(user=user, challenge=challenge)
    return _challenge_detail(challenge, user)


# --- check-ins ----------------------------------------------------------------------------


@router.post("/challenges/{challenge_id}/checkins", response=errors_for({201: CheckInCreated}))
def check_in(request: HttpRequest, challenge_id: Id, payload: CheckInIn):
    """Today's check-in by the circle's clock. 409 already_checked_in; 400 outside_window, not_scheduled_day,
    not_started, challenge_ended, text_too_short, image_required, voice_required; 403 not_participant."""
    checkin = actions.do_check_in(user=current_user(request), challenge_id=challenge_id, text=payload.text,
                                  image=payload.image, voice=payload.voice)
    return Status(201, {"id": checkin.id, "day": checkin.day, "created_at": checkin.created_at,
                        "is_makeup": False})


@router.post("/challenges/{challenge_id}/makeups", response=errors_for({201: CheckInCreated}))
def make_up(request: HttpRequest, challenge_id: Id, payload: MakeUpIn):
    """A make-up check-in (补卡) for a missed past scheduled day, within the challenge's allowance."""
    user = current_user(request)
    challenge, _m = access_challenge(challenge_id, user)
    checkin = actions.do_make_up(user=user, challenge=challenge, day=payload.day, text=payload.text,
                                 image=payload.image, voice=payload.voice)
    return Status(201, {"id": checkin.id, "day": checkin.day, "created_at": checkin.created_at,
                        "is_makeup": True})


@router.get("/challenges/{challenge_id}/board", response=errors_for({200: BoardOut}))
def get_board(request: HttpRequest, challenge_id: Id, day: date | None = None,
              offset: int = Query(0, ge=0, le=1_000_000), limit: int = Query(50, ge=1, le=100),
              waiting_after: Cursor = 0):
    """Who checked in first (earliest first, paged by offset) and who has not yet (paged by waiting_after)."""
    challenge, _m = access_challenge(challenge_id, current_user(request))
    the_day = day or selectors.board_day(challenge)
    board = selectors.board(challenge, the_day, offset=offset, limit=limit, waiting_after=waiting_after)
    return {
        "day": board.day, "timezone": challenge.circle.timezone, "participants": board.participants,
        "checked_in": board.checked_in, "not_yet": board.not_yet,
        "first": [{"rank": offset + i + 1, "user": user_brief(c.user), "checkin_id": c.id,
                   "created_at": c.created_at, "local_time": _local(c.created_at, challenge)}
                  for i, c in enumerate(board.first)],
        "first_has_more": board.first_has_more,
        "waiting": [{"user": user_brief(p.user), "participant_id": p.id} for p in board.waiting],
        "waiting_after": board.waiting_after,
    }


@router.get("/challenges/{challenge_id}/calendar", response=errors_for({200: CalendarOut}))
def get_calendar(request: HttpRequest, challenge_id: Id, user_id: Id | None = None):
    """A participant's calendar and streaks (yours by default; check-ins are visible to the circle)."""
    user = current_user(request)
    challenge, _m = access_challenge(challenge_id, user)
    participant = Participant.objects.select_related("user").filter(
        challenge=challenge, user_id=user_id or user.id).first()
    if participant is None:
        raise NotFound(_("That member has not joined this challenge."), code="participant_not_found")
    days = selectors.calendar(challenge, participant)
    return {
        "user": user_brief(participant.user),
        "stats": selectors.stats(challenge, participant),
        "days": [{"day": d.day, "state": d.state, "checkin_id": d.checkin_id,
                  "local_time": d.time.strftime("%H:%M") if d.time else None} for d in days],
    }


@router.get("/challenges/{challenge_id}/feed", response=errors_for({200: FeedOut}))
def get_feed(request: HttpRequest, challenge_id: Id, before: Cursor | None = None,
             limit: int = Query(20, ge=1, le=50)):
    """Check-in posts newest first, with your like and the comments."""
    user = current_user(request)
    challenge, _m = access_challenge(challenge_id, user)
    rows, more = selectors.feed(challenge, user, before=before or None, limit=limit)
    return {"items": [checkin_out(c, challenge) for c in rows], "has_more": more,
            "next_before": rows[-1].id if rows and more else None}


# --- likes and comments -------------------------------------------------------------------


def _checkin_detail(checkin_id: int, user) -> dict[str, Any]:
    checkin = CheckIn.objects.select_related("user", "image", "voice", "challenge__circle").get(id=checkin_id)
    selectors.attach_social([checkin], user)
    return checkin_out(checkin, checkin.challenge)


@router.post("/checkins/{checkin_id}/like", response=errors_for({200: CheckInOut}))
def like_checkin(request: HttpRequest, checkin_id: Id):
    user = current_user(request)
    checkin = actions.do_like(user=user, checkin_id=checkin_id, like=True)
    return _checkin_detail(checkin.id, user)


@router.delete("/checkins/{checkin_id}/like", response=errors_for({200: CheckInOut}))
def unlike_checkin(request: HttpRequest, checkin_id: Id):
    user = current_user(request)
    checkin = actions.do_like(user=user, checkin_id=checkin_id, like=False)
    return _checkin_detail(checkin.id, user)


@router.post("/checkins/{checkin_id}/comments", response=errors_for({201: CheckinCommentOut}))
def comment_checkin(request: HttpRequest, checkin_id: Id, payload: CommentIn):
    comment = actions.do_comment(user=current_user(request), checkin_id=checkin_id, text=payload.text)
    return Status(201, comment_out(comment))


@router.delete("/checkin-comments/{comment_id}", response=errors_for({200: OkOut}))
def delete_comment(request: HttpRequest, comment_id: Id):
    """The author, or a moderator and up."""
    if as_db_id(comment_id) is None:
        raise InvalidInput(_("Invalid id."))
    actions.do_delete_comment(user=current_user(request), comment_id=comment_id)
    return {"ok": True}


# --- deposit settlement (settlement work: quanzi.checkins.settlement / settlement_report) ---------------------


class SettlementRowOut(Schema):
    user: UserBrief
    days: int
    outcome: str = Field(description="`completed` or `failed`.")
    deposit: int
    refund: int = Field(description="Own deposit back (minor units).")
    share: int = Field(description="Share of the forfeited deposits, the leftover unit included.")
    leftover_unit: bool = Field(description="This member received one of the leftover minor units.")
    amount: int = Field(description="What the member receives in total.")
    paid_at: datetime | None = None


class SettlementOut(Schema):
    status: str = Field(description="`open` (not settled: a projection from the current counts), `planned` "
                                    "(being paid out) or `done`.")
    projected: bool
    settle_after: datetime = Field(description="When the last window closes and settlement may run.")
    finished_at: datetime | None = None
    currency: str
    rule: str = Field(description="`shared`, `all_completed`, `no_completers` or `no_participants`.")
    share_mode: str
    fee_bps: int
    days_to_complete: int
    pool: int
    forfeited: int
    fee: int
    distributable: int
    leftover: int
    leftover_recipients: list[UserBrief]
    participants: int
    completers: int
    items: list[SettlementRowOut] = Field(description="Every member for organisers; your own row for members.")
    total: int
    limit: int
    offset: int


@router.get("/challenges/{challenge_id}/settlement", response=errors_for({200: SettlementOut}))
def get_settlement(request: HttpRequest, challenge_id: Id, page: Query[PageParams]):
    """The deposit settlement: totals, the leftover-unit recipients, and each member's days, outcome and amount
    (organisers see every row, members their own). Before the end it is a projection from the current counts."""
    from quanzi.checkins.settlement_report import settlement_report

    user = current_user(request)
    challenge, membership = access_challenge(challenge_id, user)
    report = settlement_report(challenge, membership, user, limit=page.limit, offset=page.offset)

    def row_out(row) -> dict[str, Any]:
        return {"user": user_brief(row.user), "days": row.days, "outcome": row.outcome, "deposit": row.deposit,
                "refund": row.refund, "share": row.gain, "leftover_unit": bool(row.bonus), "amount": row.amount,
                "paid_at": row.paid_at}

    return {
        "status": report.status, "projected": report.projected, "settle_after": report.settle_after,
        "finished_at": report.finished_at, "currency": report.currency, "rule": report.rule,
        "share_mode": report.share_mode, "fee_bps": report.fee_bps, "days_to_complete": report.days_to_complete,
        "pool": report.pool, "forfeited": report.forfeited, "fee": report.fee, "distributable": report.distributable,
        "leftover": report.leftover, "leftover_recipients": [user_brief(r.user) for r in report.leftover_recipients],
        "participants": report.participants, "completers": report.completers,
        "items": [row_out(row) for row in report.rows], "total": report.total_rows, "limit": page.limit,
        "offset": page.offset,
    }


@router.post("/challenges/{challenge_id}/leave", response=errors_for({200: OkOut}))
def leave_challenge(request: HttpRequest, challenge_id: Id):
    """Leave before the first window opens; a deposit goes back to your wallet (once). Errors: `not_participant`,
    `challenge_started` (from the start on a deposit stays in until the settlement)."""
    user = current_user(request)
    challenge, _m = access_challenge(challenge_id, user)
    actions.do_leave_challenge(user=user, challenge=challenge)
    return {"ok": True}
