"""State changes of check-in challenges (settlement lives in ``settlement.py`` / ``deposits.py``).

Every action takes an optional ``now`` so tests can place it anywhere on the challenge's clock.
The check-in itself (:func:`do_check_in`) is the hot path of the morning rush: one short
transaction with one read (challenge, circle zone, membership, participant in one join), one
``INSERT … ON CONFLICT DO NOTHING`` (the UNIQUE (participant, day) constraint decides "twice")
and one ``UPDATE`` of the participant's streak computed by the database from its own row.
"""

from __future__ import annotations

import threading
import unicodedata
from datetime import date, datetime, time
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from quanzi.archive.models import CircleFile
from quanzi.circles import rules as circle_rules
from quanzi.circles.access import get_membership
from quanzi.circles.models import Circle, Membership, MembershipStatus
from quanzi.core import audit
from quanzi.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from quanzi.core.ids import as_db_id

from . import rules
from .events import CheckinEvent, emit_checkin_event
from .models import (
    EVERY_DAY,
    Challenge,
    ChallengeStatus,
    CheckIn,
    CheckInComment,
    CheckInLike,
    Participant,
    ShareMode,
)
from .schedule import MAX_CHALLENGE_DAYS, Closed, Rules, streaks, weekdays_to_mask

TEXT_MAX = 5000
COMMENT_MAX = 2000
TITLE_MAX = 120

# Fields an admin may still change after the challenge has started: everything else is a rule
# members signed up for (and maybe paid a deposit on).
EDITABLE_AFTER_START = {"title", "description"}
RULE_FIELDS = (
    "start_date", "end_date", "weekdays", "window_start", "window_end", "require_min_chars", "require_image",
    "require_voice", "makeups_allowed", "days_to_complete", "join_deadline", "deposit_amount", "share_mode",
    "organiser_fee_bps",
)


def count_chars(text: str) -> int:
    """Characters a reader sees: NFC code points without whitespace, so 你好 is 2 and "a b" is 2."""
    return sum(1 for ch in unicodedata.normalize("NFC", text) if not ch.isspace())


def rules_of(challenge: Challenge) -> Rules:
    return Rules.of(challenge, challenge.circle.timezone)


# --- challenges ---------------------------------------------------------------------------


def _as_mask(weekdays: Any) -> int:
    if weekdays is None:
        return EVERY_DAY
    if isinstance(weekdays, int) and not isinstance(weekdays, bool):
        mask = weekdays
    else:
        try:
            days = [int(d) for d in weekdays]
        except (TypeError, ValueError):
            raise InvalidInput(_("Weekdays are numbers from 0 (Monday) to 6 (Sunday)."), code="invalid_weekdays")
        if any(d < 0 or d > 6 for d in days):
            raise InvalidInput(_("Weekdays are numbers from 0 (Monday) to 6 (Sunday)."), code="invalid_weekdays")
        mask = weekdays_to_mask(days)
    if mask <= 0 or mask > EVERY_DAY:
        raise InvalidInput(_("Choose at least one weekday."), code="invalid_weekdays")
    return mask


def _validate(values: dict[str, Any], circle: Circle) -> None:
    """The rules of a challenge, checked as a whole (create and edit)."""
    title = (values.get("title") or "").strip()
    if not title:
        raise InvalidInput(_("Give the challenge a title."), code="invalid_title")
    if len(title) > TITLE_MAX:
        raise InvalidInput(_("The title is too long (at most %(n)d characters).") % {"n": TITLE_MAX},
                           code="invalid_title")
    values["title"] = title
    values["description"] = (values.get("description") or "").strip()
    if len(values["description"]) > 5000:
        raise InvalidInput(_("The description is too long."), code="invalid_description")
    start, end = values.get("start_date"), values.get("end_date")
    if not isinstance(start, date) or not isinstance(end, date):
        raise InvalidInput(_("Give the first and the last day."), code="invalid_dates")
    if end < start:
        raise InvalidInput(_("The last day cannot be before the first day."), code="invalid_dates")
    if (end - start).days + 1 > MAX_CHALLENGE_DAYS:
        raise InvalidInput(_("A challenge lasts at most %(n)d days.") % {"n": MAX_CHALLENGE_DAYS},
                           code="invalid_dates")
    values["weekdays"] = _as_mask(values.get("weekdays"))
    ws, we = values.get("window_start"), values.get("window_end")
    if not isinstance(ws, time) or not isinstance(we, time):
        raise InvalidInput(_("Give the times the daily window opens and closes."), code="invalid_window")
    if ws == we:
        raise InvalidInput(_("The window must open and close at different times."), code="invalid_window")
    for name in ("require_min_chars", "makeups_allowed", "deposit_amount", "organiser_fee_bps"):
        value = values.get(name, 0)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise InvalidInput(_("%(field)s must be a whole number, zero or more.") % {"field": name},
                               code=f"invalid_{name}")
    if values["require_min_chars"] > TEXT_MAX:
        raise InvalidInput(_("A check-in holds at most %(n)d characters.") % {"n": TEXT_MAX},
                           code="invalid_require_min_chars")
    if values["organiser_fee_bps"] > 10000:
        raise InvalidInput(_("The organiser fee is between 0 and 10000 basis points (100%)."),
                           code="invalid_organiser_fee_bps")
    if values["deposit_amount"] > 10**12:
        raise InvalidInput(_("The deposit is too large."), code="invalid_deposit_amount")
    if values.get("share_mode") not in ShareMode.values:
        raise InvalidInput(_("Choose how forfeited deposits are shared."), code="invalid_share_mode")
    clock = Rules(start, end, values["weekdays"], ws, we, _zone(circle))
    scheduled = clock.scheduled_count()
    if scheduled == 0:
        raise InvalidInput(_("None of the chosen weekdays falls between the first and the last day."),
                           code="invalid_weekdays")
    days = values.get("days_to_complete")
    if days is None:
        values["days_to_complete"] = days = scheduled
    if not isinstance(days, int) or isinstance(days, bool) or days < 1 or days > scheduled:
        raise InvalidInput(
            _("Days needed to complete must be between 1 and the %(n)d scheduled days.") % {"n": scheduled},
            code="invalid_days_to_complete",
        )
    if values["makeups_allowed"] > scheduled:
        raise InvalidInput(_("More make-ups than scheduled days make no sense."), code="invalid_makeups_allowed")
    deadline = values.get("join_deadline")
    if deadline is not None:
        if not isinstance(deadline, datetime) or timezone.is_naive(deadline):
            raise InvalidInput(_("The join deadline needs a date and time."), code="invalid_join_deadline")
        if deadline >= clock.window(end)[1]:
            raise InvalidInput(_("The join deadline must be before the last window closes."),
                               code="invalid_join_deadline")


def _zone(circle: Circle):
    from .schedule import zone

    return zone(circle.timezone)


@transaction.atomic
def do_create_challenge(*, actor, circle: Circle, now: datetime | None = None, **fields: Any) -> Challenge:
    """Admins: a new challenge, open for joining at once."""
    now = now or timezone.now()
    membership = get_membership(circle, actor)
    rules.check_manage_challenges(membership)
    unknown = set(fields) - {"title", "description", *RULE_FIELDS}
    if unknown:
        raise InvalidInput(_("Unknown fields: %(f)s") % {"f": ", ".join(sorted(unknown))}, code="invalid")
    values: dict[str, Any] = {
        "description": "", "weekdays": EVERY_DAY, "require_min_chars": 0, "require_image": False,
        "require_voice": False, "makeups_allowed": 0, "days_to_complete": None, "join_deadline": None,
        "deposit_amount": 0, "share_mode": ShareMode.EVEN, "organiser_fee_bps": 0,
    }
    values.update(fields)
    _validate(values, circle)
    clock = Rules(values["start_date"], values["end_date"], values["weekdays"], values["window_start"],
                  values["window_end"], _zone(circle))
    if clock.day_closed(values["end_date"], now):
        raise InvalidInput(_("The last day's window has already closed."), code="invalid_dates")
    challenge = Challenge.objects.create(
        circle=circle, created_by=actor, created_at=now, currency=circle.currency,
        status=ChallengeStatus.OPEN, **values,
    )
    audit.record(circle=circle, actor=actor, action="challenge.create", target_repr=challenge.title,
                 data={"challenge_id": challenge.id})
    emit_checkin_event(CheckinEvent.CHALLENGE_CREATED, circle=circle, actor_id=actor.id,
                       data={"challenge_id": challenge.id})
    from .tasks import schedule_next_reminder

    transaction.on_commit(lambda: schedule_next_reminder(challenge.id, now=now))
    return challenge


@transaction.atomic
def do_update_challenge(*, actor, challenge: Challenge, now: datetime | None = None, **fields: Any) -> Challenge:
    """Admins: edit a challenge. Once the first window has opened only title and description change."""
    now = now or timezone.now()
    challenge = Challenge.objects.select_for_update().select_related("circle").get(id=challenge.id)
    circle = challenge.circle
    rules.check_manage_challenges(get_membership(circle, actor))
    unknown = set(fields) - {"title", "description", *RULE_FIELDS}
    if unknown:
        raise InvalidInput(_("Unknown fields: %(f)s") % {"f": ", ".join(sorted(unknown))}, code="invalid")
    changed = {k: v for k, v in fields.items() if getattr(challenge, k) != (
        _as_mask(v) if k == "weekdays" else v)}
    if challenge.status in (ChallengeStatus.SETTLING, ChallengeStatus.SETTLED):
        raise Conflict(_("A settled challenge cannot be edited."), code="challenge_settled")
    if rules_of(challenge).started(now) and set(changed) - EDITABLE_AFTER_START:
        raise Conflict(_("The challenge has started: only its title and description can change."),
                       code="challenge_started")
    money = {"deposit_amount", "share_mode", "organiser_fee_bps"} & set(changed)
    if money and challenge.participants.exists():
        raise Conflict(_("Members have joined: the deposit and how it is shared can no longer change."),
                       code="challenge_has_participants")
    values = {name: getattr(challenge, name) for name in ("title", "description", *RULE_FIELDS)}
    if "days_to_complete" not in fields and challenge.days_to_complete == rules_of(challenge).scheduled_count():
        values["days_to_complete"] = None  # "every scheduled day" follows a new schedule
    values.update(fields)
    _validate(values, circle)
    for name, value in values.items():
        setattr(challenge, name, value)
    challenge.save()
    audit.record(circle=circle, actor=actor, action="challenge.update", target_repr=challenge.title,
                 data={"challenge_id": challenge.id, "fields": sorted(changed)})
    emit_checkin_event(CheckinEvent.CHALLENGE_UPDATED, circle=circle, actor_id=actor.id,
                       data={"challenge_id": challenge.id, "fields": sorted(changed)})
    if set(changed) & {"start_date", "end_date", "weekdays", "window_start", "window_end"}:
        from .tasks import schedule_next_reminder

        transaction.on_commit(lambda: schedule_next_reminder(challenge.id, now=now))
    return challenge


def join_deadline(challenge: Challenge) -> datetime:
    """Joining closes at the join deadline, or when the first day's window opens."""
    return challenge.join_deadline or rules_of(challenge).window(challenge.start_date)[0]


@transaction.atomic
def do_join_challenge(*, user, challenge: Challenge, now: datetime | None = None) -> Participant:
    """A member joins; with a deposit, :func:`quanzi.checkins.deposits.pay_deposit` takes it in the same transaction."""
    now = now or timezone.now()
    challenge = Challenge.objects.select_related("circle").get(id=challenge.id)
    membership = Membership.objects.select_for_update().filter(circle_id=challenge.circle_id, user=user).first()
    rules.check_take_part(membership)
    if challenge.status != ChallengeStatus.OPEN:
        raise Conflict(_("This challenge is over."), code="join_closed")
    deadline = join_deadline(challenge)
    if now >= deadline:
        local = timezone.localtime(deadline, _zone(challenge.circle))
        raise Conflict(
            _("Joining closed at %(when)s (%(tz)s).") % {"when": local.strftime("%Y-%m-%d %H:%M"),
                                                        "tz": challenge.circle.timezone},
            code="join_closed",
        )
    if Participant.objects.filter(challenge=challenge, user=user).exists():
        raise Conflict(_("You have already joined this challenge."), code="already_joined")
    pay_deposit = None
    if challenge.deposit_amount > 0:
        try:
            from .deposits import pay_deposit
        except ImportError:
            raise Conflict(_("Deposits are not available yet: this challenge cannot be joined."),
                           code="deposits_unavailable")
    try:
        with transaction.atomic():
            participant = Participant.objects.create(challenge=challenge, user=user, joined_at=now)
    except IntegrityError:
        raise Conflict(_("You have already joined this challenge."), code="already_joined")
    if pay_deposit is not None:
        pay_deposit(participant)
    audit.record(circle=challenge.circle, actor=user, action="challenge.join", target_repr=challenge.title,
                 data={"challenge_id": challenge.id, "deposit": participant.deposit_paid})
    emit_checkin_event(CheckinEvent.PARTICIPANT_JOINED, circle=challenge.circle, actor_id=user.id,
                       data={"challenge_id": challenge.id, "deposit": participant.deposit_paid})
    return participant


@transaction.atomic
def do_leave_challenge(*, user, challenge: Challenge, now: datetime | None = None) -> None:
    """Leave before the first window opens: the deposit goes back to the wallet
    (:func:`quanzi.checkins.deposits.refund_deposit`, once) and the participation is removed.
    From the start on, a deposit stays in until the settlement (``challenge_started``)."""
    now = now or timezone.now()
    challenge = Challenge.objects.select_for_update(of=("self",)).select_related("circle").get(id=challenge.id)
    participant = Participant.objects.select_for_update().filter(challenge=challenge, user=user).first()
    if participant is None:
        raise Conflict(_("You have not joined this challenge."), code="not_participant")
    if challenge.status != ChallengeStatus.OPEN or rules_of(challenge).started(now):
        raise Conflict(_("The challenge has started: you can no longer leave it, and a deposit stays in until "
                         "the settlement."), code="challenge_started")
    from .deposits import refund_deposit

    refunded = participant.deposit_paid
    refund_deposit(participant)
    participant.delete()
    audit.record(circle=challenge.circle, actor=user, action="challenge.leave", target_repr=challenge.title,
                 data={"challenge_id": challenge.id, "refunded": refunded})
    emit_checkin_event(CheckinEvent.PARTICIPANT_LEFT, circle=challenge.circle, actor_id=user.id,
                       data={"challenge_id": challenge.id, "refunded": refunded})


# --- the check-in -------------------------------------------------------------------------

_LOAD_SQL = """
SELECT c.circle_id, c.start_date, c.end_date, c.weekdays, c.window_start, c.window_end, c.require_min_chars,
       c.require_image, c.require_voice, c.status, ci.timezone, m.status, m.user_id, p.id, p.joined_at
FROM {challenge} c
JOIN {circle} ci ON ci.id = c.circle_id
LEFT JOIN {membership} m ON m.circle_id = c.circle_id AND m.user_id = %s
LEFT JOIN {participant} p ON p.challenge_id = c.id AND p.user_id = %s
WHERE c.id = %s
"""

_INSERT_SQL = """
INSERT INTO {checkin} (challenge_id, participant_id, user_id, day, created_at, text, image_id, voice_id,
                       is_makeup, like_count, comment_count)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, 0, 0)
ON CONFLICT (participant_id, day) DO NOTHING
RETURNING id
"""

# The streak grows when the previous check-in was the previous scheduled day; the database
# computes it from the row as it stands when the UPDATE runs (after any concurrent writer).
_STREAK_SQL = """
UPDATE {participant} SET
  current_streak = CASE WHEN last_checkin_day = %s THEN current_streak + 1 ELSE 1 END,
  longest_streak = CASE
      WHEN last_checkin_day = %s AND current_streak + 1 > longest_streak THEN current_streak + 1
      WHEN longest_streak < 1 THEN 1
      ELSE longest_streak END,
  total_checkins = total_checkins + 1,
  last_checkin_day = %s
WHERE id = %s
"""


# PostgreSQL: the check-in row and the streak in one statement, so a check-in without files needs no
# BEGIN/COMMIT round trips (a single statement is atomic); the streak moves only if the row went in.
_CHECKIN_PG_SQL = (  # two constant statements of this module; every value is a parameter
    "WITH ins AS (" + _INSERT_SQL.strip() + "), streak AS (" + _STREAK_SQL.strip()  # noqa: S608
    + " AND EXISTS (SELECT 1 FROM ins)) SELECT id FROM ins"
)


def _sql(template: str) -> str:
    q = connection.ops.quote_name
    return template.format(
        challenge=q(Challenge._meta.db_table), circle=q(Circle._meta.db_table),
        membership=q(Membership._meta.db_table), participant=q(Participant._meta.db_table),
        checkin=q(CheckIn._meta.db_table),
    )


def _to_time(value) -> time:
    return value if isinstance(value, time) else time.fromisoformat(str(value))


def _to_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _closed_error(why: Closed, clock: Rules) -> InvalidInput:
    window = f"{clock.window_start:%H:%M}–{clock.window_end:%H:%M} ({clock.tz.key})"
    messages = {
        Closed.NOT_STARTED: _("The challenge has not started yet: the first window opens on %(day)s at %(time)s.")
        % {"day": clock.start_date.isoformat(), "time": window},
        Closed.ENDED: _("The challenge has ended."),
        Closed.NOT_SCHEDULED: _("Today is not a check-in day of this challenge."),
        Closed.OUTSIDE_WINDOW: _("Check-ins are open %(window)s only.") % {"window": window},
    }
    return InvalidInput(messages[why], code=str(why))


def _attachment(file_id: str | None, *, circle_id: int, user_id: int, kind: str) -> CircleFile | None:
    """A file of this circle the user uploaded, of the right kind (images for images, audio for voice)."""
    if not file_id:
        return None
    found = CircleFile.objects.filter(public_id=str(file_id)[:32], circle_id=circle_id, uploader_id=user_id,
                                      deleted_at__isnull=True, attached_kind="").first()
    if found is None:
        raise InvalidInput(_("That file was not found or is already used (upload it to this circle first)."),
                           code="file_not_found")
    if found.kind != kind:
        message = _("That file is not an image.") if kind == "image" else _("That file is not a voice note.")
        raise InvalidInput(message, code=f"not_{kind}")
    return found


def _check_content(text: str, image, voice, *, min_chars: int, need_image: bool, need_voice: bool) -> str:
    text = (text or "").strip()
    if len(text) > TEXT_MAX:
        raise InvalidInput(_("A check-in holds at most %(n)d characters.") % {"n": TEXT_MAX}, code="text_too_long")
    if "\x00" in text:
        raise InvalidInput(_("The text contains a NUL character."), code="invalid_text")
    if min_chars and count_chars(text) < min_chars:
        raise InvalidInput(
            _("Write at least %(n)d characters (you wrote %(m)d).") % {"n": min_chars, "m": count_chars(text)},
            code="text_too_short",
        )
    if need_image and image is None:
        raise InvalidInput(_("This challenge needs an image with each check-in."), code="image_required")
    if need_voice and voice is None:
        raise InvalidInput(_("This challenge needs a voice note with each check-in."), code="voice_required")
    return text


def _from_db_datetime(value):
    if value is not None and not isinstance(value, datetime):
        value = datetime.fromisoformat(str(value))
    if value is not None and settings.USE_TZ and timezone.is_naive(value):
        return timezone.make_aware(value, connection.timezone)
    return value


# SQLite has one writer at a time and its busy handler waits by sleeping with back-off (up to
# 100 ms a nap), which gives a rush of concurrent request threads second-long tails. Check-ins of
# this process queue on a lock instead, which hands the write over the moment it is free. Only
# when no transaction is open yet (inside one, SQLite's own lock may already be held).
_SQLITE_WRITER = threading.Lock()


def do_check_in(*, user, challenge_id: int | str, text: str = "", image: str | None = None,
                voice: str | None = None, now: datetime | None = None) -> CheckIn:
    """Today's check-in (by the circle's clock). Twice on one day → 409 ``already_checked_in``.

    The checks read first; the write is short. On SQLite only the write holds the process's writer
    lock (reads don't need it: WAL), so the rush's serialised part is two statements and a commit; on
    PostgreSQL a check-in without files is one atomic statement (``_CHECKIN_PG_SQL``). Between the
    checks and the write a participant can't stop being one (rows are never deleted while the challenge
    runs) and the one-per-day constraint decides races.
    """
    if connection.in_atomic_block or image or voice:
        with transaction.atomic():  # files are attached in the same transaction as the check-in
            return _insert(**_check(user=user, challenge_id=challenge_id, text=text, image=image, voice=voice,
                                    now=now))
    row = _check(user=user, challenge_id=challenge_id, text=text, image=image, voice=voice, now=now)
    if connection.vendor == "sqlite":
        with _SQLITE_WRITER, transaction.atomic():
            return _insert(**row)
    if connection.vendor == "postgresql":
        return _insert(**row)
    with transaction.atomic():
        return _insert(**row)


def _check(*, user, challenge_id: int | str, text: str, image: str | None, voice: str | None,
           now: datetime | None) -> dict[str, Any]:
    """Everything a check-in needs to be allowed, read in one statement; the arguments of ``_insert``."""
    now = now or timezone.now()
    cid = as_db_id(challenge_id)
    if cid is None or user is None or not getattr(user, "is_authenticated", False):
        raise NotFound(_("No such challenge."), code="challenge_not_found")
    with connection.cursor() as cursor:
        cursor.execute(_sql(_LOAD_SQL), [user.id, user.id, cid])
        row = cursor.fetchone()
    if row is None:
        raise NotFound(_("No such challenge."), code="challenge_not_found")
    (circle_id, start, end, weekdays, w_start, w_end, min_chars, need_image, need_voice, status, tz_name,
     m_status, m_user, participant_id, _joined) = row
    if m_user is None or m_status != MembershipStatus.ACTIVE:
        raise NotFound(_("No such challenge."), code="challenge_not_found")
    if participant_id is None:
        raise Forbidden(_("Join the challenge before checking in."), code="not_participant")
    from .schedule import zone

    clock = Rules(_to_date(start), _to_date(end), weekdays, _to_time(w_start), _to_time(w_end), zone(tz_name))
    if status in (ChallengeStatus.SETTLING, ChallengeStatus.SETTLED):
        raise InvalidInput(_("The challenge has ended."), code=str(Closed.ENDED))
    day = clock.open_day(now)
    if day is None:
        raise _closed_error(clock.why_closed(now), clock)
    image_file = _attachment(image, circle_id=circle_id, user_id=user.id, kind="image")
    voice_file = _attachment(voice, circle_id=circle_id, user_id=user.id, kind="voice")
    text = _check_content(text, image_file, voice_file, min_chars=min_chars, need_image=bool(need_image),
                          need_voice=bool(need_voice))
    return {"user": user, "challenge_id": cid, "participant_id": participant_id, "day": day, "now": now,
            "text": text, "image": image_file, "voice": voice_file, "is_makeup": False, "clock": clock,
            "circle_id": circle_id}


def _insert(*, user, challenge_id: int, participant_id: int, day: date, now: datetime, text: str, image, voice,
            is_makeup: bool, clock: Rules, circle_id: int) -> CheckIn:
    ops = connection.ops
    insert_params = [challenge_id, participant_id, user.id, ops.adapt_datefield_value(day),
                     ops.adapt_datetimefield_value(now), text, image.id if image else None,
                     voice.id if voice else None, is_makeup]
    streak_params: list = []
    if not is_makeup:
        prev = clock.previous_scheduled(day)
        prev_db = ops.adapt_datefield_value(prev) if prev else None
        streak_params = [prev_db, prev_db, ops.adapt_datefield_value(day), participant_id]
    one_statement = connection.vendor == "postgresql" and not is_makeup and image is None and voice is None
    with connection.cursor() as cursor:
        cursor.execute(_sql(_CHECKIN_PG_SQL if one_statement else _INSERT_SQL),
                       insert_params + streak_params if one_statement else insert_params)
        inserted = cursor.fetchone()
        if inserted is None:
            raise Conflict(_("You have already checked in for %(day)s.") % {"day": day.isoformat()},
                           code="already_checked_in")
        if streak_params and not one_statement:
            cursor.execute(_sql(_STREAK_SQL), streak_params)
    checkin = CheckIn(id=inserted[0], challenge_id=challenge_id, participant_id=participant_id, user_id=user.id,
                      day=day, created_at=now, text=text, image=image, voice=voice, is_makeup=is_makeup)
    checkin._state.adding = False
    checkin._state.db = connection.alias
    if image or voice:
        from quanzi.archive.actions import do_attach_files

        do_attach_files(actor=user, circle=Circle(id=circle_id), kind="checkin", object_id=checkin.id,
                        public_ids=[f.public_id for f in (image, voice) if f])
    return checkin


@transaction.atomic
def do_make_up(*, user, challenge: Challenge, day: date, text: str = "", image: str | None = None,
               voice: str | None = None, now: datetime | None = None) -> CheckIn:
    """A make-up check-in (补卡) for a missed scheduled day whose window has closed, within the allowance."""
    now = now or timezone.now()
    challenge = Challenge.objects.select_related("circle").get(id=challenge.id)
    membership = get_membership(challenge.circle, user)
    if not circle_rules.is_active(membership):
        raise NotFound(_("No such challenge."), code="challenge_not_found")
    participant = Participant.objects.select_for_update().filter(challenge=challenge, user=user).first()
    if participant is None:
        raise Forbidden(_("Join the challenge before checking in."), code="not_participant")
    if challenge.status in (ChallengeStatus.SETTLING, ChallengeStatus.SETTLED):
        raise InvalidInput(_("The challenge has ended."), code=str(Closed.ENDED))
    clock = rules_of(challenge)
    if not isinstance(day, date):
        raise InvalidInput(_("Give the day to make up."), code="invalid_day")
    if not clock.is_scheduled(day):
        raise InvalidInput(_("%(day)s is not a check-in day of this challenge.") % {"day": day.isoformat()},
                           code="not_scheduled_day")
    if not clock.day_closed(day, now):
        raise InvalidInput(_("Make-ups are for past days; check in as usual while the window is open."),
                           code="makeup_not_past")
    joined_day = clock.local(participant.joined_at).date()
    if day < joined_day:
        raise InvalidInput(_("You had not joined the challenge on %(day)s.") % {"day": day.isoformat()},
                           code="makeup_before_join")
    if clock.day_closed(challenge.end_date, now):
        raise InvalidInput(_("The challenge has ended; make-ups are closed."), code=str(Closed.ENDED))
    if participant.makeups_used >= challenge.makeups_allowed:
        raise Conflict(_("You have used all %(n)d make-ups of this challenge.") % {"n": challenge.makeups_allowed},
                       code="no_makeups_left")
    image_file = _attachment(image, circle_id=challenge.circle_id, user_id=user.id, kind="image")
    voice_file = _attachment(voice, circle_id=challenge.circle_id, user_id=user.id, kind="voice")
    text = _check_content(text, image_file, voice_file, min_chars=challenge.require_min_chars,
                          need_image=challenge.require_image, need_voice=challenge.require_voice)
    checkin = _insert(user=user, challenge_id=challenge.id, participant_id=participant.id, day=day, now=now,
                      text=text, image=image_file, voice=voice_file, is_makeup=True, clock=clock,
                      circle_id=challenge.circle_id)
    days = list(CheckIn.objects.filter(participant=participant).values_list("day", flat=True))
    current, longest = streaks(clock, days)
    participant.current_streak = current
    participant.longest_streak = max(longest, participant.longest_streak)
    participant.total_checkins = len(days)
    participant.makeups_used += 1
    participant.last_checkin_day = max(days)
    participant.save(update_fields=["current_streak", "longest_streak", "total_checkins", "makeups_used",
                                    "last_checkin_day"])
    emit_checkin_event(CheckinEvent.MAKEUP, circle=challenge.circle, actor_id=user.id,
                       data={"challenge_id": challenge.id, "day": day.isoformat()})
    return checkin


# --- likes and comments -------------------------------------------------------------------


def _checkin_for(user, checkin_id: int | str, *, lock: bool = False) -> tuple[CheckIn, Membership]:
    cid = as_db_id(checkin_id)
    qs = CheckIn.objects.select_related("challenge__circle")
    if lock:
        qs = qs.select_for_update(of=("self",)) if connection.features.has_select_for_update_of else qs
    checkin = qs.filter(id=cid).first() if cid else None
    membership = get_membership(checkin.challenge.circle, user) if checkin else None
    if checkin is None or not circle_rules.is_active(membership):
        raise NotFound(_("No such check-in."), code="checkin_not_found")
    return checkin, membership


@transaction.atomic
def do_like(*, user, checkin_id: int | str, like: bool = True) -> CheckIn:
    """Like (or unlike) a check-in; liking twice is harmless."""
    checkin, membership = _checkin_for(user, checkin_id)
    rules.check_take_part(membership)
    if like:
        try:
            with transaction.atomic():
                CheckInLike.objects.create(checkin=checkin, user=user)
        except IntegrityError:
            return checkin
        delta = 1
    else:
        deleted, _n = CheckInLike.objects.filter(checkin=checkin, user=user).delete()
        if not deleted:
            return checkin
        delta = -1
    from django.db.models import F

    CheckIn.objects.filter(id=checkin.id).update(like_count=F("like_count") + delta)
    checkin.refresh_from_db(fields=["like_count"])
    return checkin


@transaction.atomic
def do_comment(*, user, checkin_id: int | str, text: str, now: datetime | None = None) -> CheckInComment:
    now = now or timezone.now()
    checkin, membership = _checkin_for(user, checkin_id)
    rules.check_comment(membership, now)
    text = (text or "").strip()
    if not text:
        raise InvalidInput(_("Write a comment."), code="empty_comment")
    if len(text) > COMMENT_MAX or "\x00" in text:
        raise InvalidInput(_("A comment holds at most %(n)d characters.") % {"n": COMMENT_MAX},
                           code="comment_too_long")
    comment = CheckInComment.objects.create(checkin=checkin, user=user, text=text, created_at=now)
    from django.db.models import F

    CheckIn.objects.filter(id=checkin.id).update(comment_count=F("comment_count") + 1)
    if checkin.user_id != user.id:
        from quanzi.chat.actions import notify_user
        from quanzi.chat.models import NoticeKind

        notify_user(user_id=checkin.user_id, circle_id=checkin.challenge.circle_id, kind=NoticeKind.CHALLENGE,
                    text=_("%(name)s commented on your check-in in %(title)s: %(text)s")
                    % {"name": user.name, "title": checkin.challenge.title, "text": text[:140]})
    return comment


@transaction.atomic
def do_delete_comment(*, user, comment_id: int | str) -> None:
    cid = as_db_id(comment_id)
    comment = CheckInComment.objects.select_related("checkin__challenge__circle").filter(id=cid).first() if cid \
        else None
    membership = get_membership(comment.checkin.challenge.circle, user) if comment else None
    if comment is None or not circle_rules.is_active(membership):
        raise NotFound(_("No such comment."), code="comment_not_found")
    rules.check_delete_comment(membership, is_author=comment.user_id == user.id)
    from django.db.models import F

    CheckIn.objects.filter(id=comment.checkin_id).update(comment_count=F("comment_count") - 1)
    if comment.user_id != user.id:
        audit.record(circle=comment.checkin.challenge.circle, actor=user, action="challenge.comment_delete",
                     target_user=comment.user, data={"comment_id": comment.id})
    comment.delete()
