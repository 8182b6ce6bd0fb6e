"""Web pages of check-in challenges (htmx): list, create/edit, the challenge page and its partials.

Thin views: fetch with the access helpers, call an action, render a page, an htmx partial or
a redirect. Domain errors become a visible message; the permission rules are in ``rules.py``.
"""

from __future__ import annotations

from datetime import date

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from quanzi.circles import rules as circle_rules
from quanzi.circles.access import access_circle, get_membership
from quanzi.circles.models import Role
from quanzi.core.errors import Forbidden, NotFound, QuanziError

from . import actions, rules, selectors
from .access import access_challenge
from .forms import ChallengeForm, CheckInForm, CommentForm, MakeUpForm
from .models import CheckIn, Participant
from .schedule import mask_to_weekdays


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _nav(membership) -> dict[str, bool]:
    return {
        "is_member": circle_rules.is_active(membership),
        "can_manage": circle_rules.has_role(membership, Role.ADMIN),
        "can_moderate": circle_rules.has_role(membership, Role.MODERATOR),
    }


def _circle(request: HttpRequest, slug: str):
    try:
        return access_circle(slug, request.user, require_member=True)
    except NotFound:
        raise Http404(_("No such circle."))


def _challenge(request: HttpRequest, slug: str, challenge_id: int):
    circle, _m = _circle(request, slug)
    try:
        return access_challenge(challenge_id, request.user, circle=circle)
    except NotFound:
        raise Http404(_("No such challenge."))


def _require(check, *args) -> None:
    try:
        check(*args)
    except Forbidden as exc:
        raise PermissionDenied(exc.message)


def _first_error(form) -> str:
    for errors in form.errors.values():
        return str(errors[0])
    return _("Invalid input.")


def _upload(request: HttpRequest, circle, field: str, kind: str) -> str | None:
    """Store an attached file through the archive and return its id for the check-in."""
    upload = request.FILES.get(field)
    if upload is None:
        return None
    from quanzi.archive.actions import do_upload_file

    return do_upload_file(actor=request.user, circle=circle, upload=upload, kind_hint=kind).public_id


WEEKDAY_NAMES = [_("Mon"), _("Tue"), _("Wed"), _("Thu"), _("Fri"), _("Sat"), _("Sun")]


def _weekday_text(mask: int) -> str:
    days = mask_to_weekdays(mask)
    if len(days) == 7:
        return _("Every day")
    return ", ".join(str(WEEKDAY_NAMES[d]) for d in days)


# --- list, create, edit -------------------------------------------------------------------


@login_required
@require_GET
def challenge_list(request: HttpRequest, slug: str) -> HttpResponse:
    circle, membership = _circle(request, slug)
    challenges = list(selectors.challenges_for_circle(circle)[:200])
    mine = selectors.my_challenge_ids(request.user, circle)
    now = timezone.now()
    for c in challenges:
        c.phase = selectors.phase(c, now)
        c.joined = c.id in mine
        c.weekday_text = _weekday_text(c.weekdays)
    return render(request, "checkins/list.html", {
        "circle": circle, "membership": membership, "nav": _nav(membership), "tab": "checkins",
        "challenges": challenges, "can_manage": rules.can_manage_challenges(membership),
    })


@login_required
@require_http_methods(["GET", "POST"])
def challenge_create(request: HttpRequest, slug: str) -> HttpResponse:
    circle, membership = _circle(request, slug)
    _require(rules.check_manage_challenges, membership)
    form = ChallengeForm(request.POST or None, circle=circle,
                         initial={"weekdays": [str(d) for d in range(7)], "window_start": "05:00",
                                  "window_end": "08:00"})
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                challenge = actions.do_create_challenge(actor=request.user, circle=circle, **form.action_fields())
            except QuanziError as exc:
                form.add_domain_error(exc)
            else:
                messages.success(request, _("Challenge created."))
                return redirect("checkins_detail", slug=circle.slug, challenge_id=challenge.id)
        status = 400
    return render(request, "checkins/form.html", {
        "circle": circle, "membership": membership, "nav": _nav(membership), "tab": "checkins", "form": form,
        "editing": None,
    }, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def challenge_edit(request: HttpRequest, slug: str, challenge_id: int) -> HttpResponse:
    challenge, membership = _challenge(request, slug, challenge_id)
    circle = challenge.circle
    _require(rules.check_manage_challenges, membership)
    form = ChallengeForm(request.POST or None, circle=circle, initial=ChallengeForm.initial_for(challenge))
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                actions.do_update_challenge(actor=request.user, challenge=challenge, **form.action_fields())
            except QuanziError as exc:
                form.add_domain_error(exc)
            else:
                messages.success(request, _("Challenge saved."))
                return redirect("checkins_detail", slug=circle.slug, challenge_id=challenge.id)
        status = 400
    return render(request, "checkins/form.html", {
        "circle": circle, "membership": membership, "nav": _nav(membership), "tab": "checkins", "form": form,
        "editing": challenge, "started": selectors.rules_of(challenge).started(timezone.now()),
    }, status=status)


# --- the challenge page -------------------------------------------------------------------


def _board_context(challenge, day: date, request: HttpRequest) -> dict:
    try:
        offset = max(0, min(int(request.GET.get("offset", 0)), 1_000_000))
        after = max(0, min(int(request.GET.get("waiting_after", 0)), 2**62))
    except ValueError:
        offset, after = 0, 0
    board = selectors.board(challenge, day, offset=offset, waiting_after=after)
    clock = selectors.rules_of(challenge)
    return {"board": board, "board_rows": [
        {"rank": offset + i + 1, "checkin": c, "local": timezone.localtime(c.created_at, clock.tz)}
        for i, c in enumerate(board.first)]}


@login_required
@require_GET
def challenge_detail(request: HttpRequest, slug: str, challenge_id: int) -> HttpResponse:
    challenge, membership = _challenge(request, slug, challenge_id)
    now = timezone.now()
    clock = selectors.rules_of(challenge)
    participant = selectors.participant_for(challenge, request.user)
    day = selectors.board_day(challenge, now)
    open_day = clock.open_day(now)
    checked_today = bool(participant and open_day and CheckIn.objects.filter(
        participant=participant, day=open_day).exists())
    rows, more = selectors.feed(challenge, request.user)
    context = {
        "circle": challenge.circle, "membership": membership, "nav": _nav(membership), "tab": "checkins",
        "challenge": challenge, "phase": selectors.phase(challenge, now), "participant": participant,
        "can_manage": rules.can_manage_challenges(membership), "weekday_text": _weekday_text(challenge.weekdays),
        "scheduled_days": clock.scheduled_count(), "join_deadline": actions.join_deadline(challenge),
        "can_join": participant is None and now < actions.join_deadline(challenge)
        and selectors.phase(challenge, now) in ("open", "running"),
        "open_day": open_day, "checked_today": checked_today, "tz": clock.tz.key,
        "next_window": clock.next_window_open(now),
        "checkin_form": CheckInForm(), "makeup_form": MakeUpForm(), "comment_form": CommentForm(),
        "feed": rows, "feed_more": more, "day": day,
        "nav_can_moderate": circle_rules.has_role(membership, Role.MODERATOR),
        **_board_context(challenge, day, request),
    }
    if participant is not None:
        context["stats"] = selectors.stats(challenge, participant, now)
        context["calendar"] = selectors.calendar(challenge, participant, now)
        context["makeups_left"] = context["stats"]["makeups_left"]
    return render(request, "checkins/detail.html", context)


@login_required
@require_POST
def challenge_join(request: HttpRequest, slug: str, challenge_id: int) -> HttpResponse:
    challenge, _m = _challenge(request, slug, challenge_id)
    try:
        actions.do_join_challenge(user=request.user, challenge=challenge)
    except QuanziError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("You joined the challenge."))
    return redirect("checkins_detail", slug=challenge.circle.slug, challenge_id=challenge.id)


@login_required
@require_POST
def check_in(request: HttpRequest, slug: str, challenge_id: int) -> HttpResponse:
    challenge, _m = _challenge(request, slug, challenge_id)
    form = CheckInForm(request.POST, request.FILES)
    try:
        if not form.is_valid():
            raise_form(form)
        with transaction.atomic():  # a refused check-in keeps none of its uploads either
            image = _upload(request, challenge.circle, "image", "image")
            voice = _upload(request, challenge.circle, "voice", "voice")
            actions.do_check_in(user=request.user, challenge_id=challenge.id, text=form.cleaned_data["text"],
                                image=image, voice=voice)
    except QuanziError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Checked in. Keep it up!"))
    return redirect("checkins_detail", slug=challenge.circle.slug, challenge_id=challenge.id)


def raise_form(form) -> None:
    from quanzi.core.errors import InvalidInput

    raise InvalidInput(_first_error(form))


@login_required
@require_POST
def make_up(request: HttpRequest, slug: str, challenge_id: int) -> HttpResponse:
    challenge, _m = _challenge(request, slug, challenge_id)
    form = MakeUpForm(request.POST, request.FILES)
    try:
        if not form.is_valid():
            raise_form(form)
        with transaction.atomic():
            image = _upload(request, challenge.circle, "image", "image")
            voice = _upload(request, challenge.circle, "voice", "voice")
            actions.do_make_up(user=request.user, challenge=challenge, day=form.cleaned_data["day"],
                               text=form.cleaned_data["text"], image=image, voice=voice)
    except QuanziError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Make-up check-in saved."))
    return redirect("checkins_detail", slug=challenge.circle.slug, challenge_id=challenge.id)


@login_required
@require_GET
def board(request: HttpRequest, slug: str, challenge_id: int) -> HttpResponse:
    """The daily board (htmx partial, or a page of its own): ``?day=YYYY-MM-DD&offset=&waiting_after=``."""
    challenge, membership = _challenge(request, slug, challenge_id)
    try:
        day = date.fromisoformat(request.GET["day"]) if request.GET.get("day") else selectors.board_day(challenge)
    except ValueError:
        day = selectors.board_day(challenge)
    context = {"circle": challenge.circle, "challenge": challenge, "membership": membership,
               "nav": _nav(membership), "tab": "checkins", "day": day, **_board_context(challenge, day, request)}
    template = "checkins/_board.html" if _is_htmx(request) else "checkins/board.html"
    return render(request, template, context)


@login_required
@require_GET
def calendar(request: HttpRequest, slug: str, challenge_id: int, user_id: int) -> HttpResponse:
    challenge, membership = _challenge(request, slug, challenge_id)
    participant = Participant.objects.select_related("user").filter(challenge=challenge, user_id=user_id).first()
    if participant is None:
        raise Http404(_("That member has not joined this challenge."))
    now = timezone.now()
    return render(request, "checkins/calendar.html", {
        "circle": challenge.circle, "challenge": challenge, "membership": membership, "nav": _nav(membership),
        "tab": "checkins", "person": participant.user, "stats": selectors.stats(challenge, participant, now),
        "calendar": selectors.calendar(challenge, participant, now),
    })


@login_required
@require_GET
def feed(request: HttpRequest, slug: str, challenge_id: int) -> HttpResponse:
    """More feed posts (htmx): ``?before=<id>``."""
    challenge, membership = _challenge(request, slug, challenge_id)
    try:
        before = max(0, min(int(request.GET.get("before", 0)), 2**62)) or None
    except ValueError:
        before = None
    rows, more = selectors.feed(challenge, request.user, before=before)
    return render(request, "checkins/_feed.html", {
        "circle": challenge.circle, "challenge": challenge, "feed": rows, "feed_more": more,
        "comment_form": CommentForm(), "nav_can_moderate": circle_rules.has_role(membership, Role.MODERATOR),
    })


# --- likes and comments -------------------------------------------------------------------


def _checkin_in_circle(request: HttpRequest, slug: str, checkin_id: int) -> CheckIn:
    circle, _m = _circle(request, slug)
    checkin = CheckIn.objects.select_related("challenge__circle", "user", "image", "voice").filter(
        id=checkin_id, challenge__circle=circle).first()
    if checkin is None:
        raise Http404(_("No such check-in."))
    return checkin


def _post_partial(request: HttpRequest, checkin: CheckIn, error: QuanziError | None = None) -> HttpResponse:
    checkin = CheckIn.objects.select_related("challenge__circle", "user", "image", "voice").get(id=checkin.id)
    selectors.attach_social([checkin], request.user)
    return render(request, "checkins/_post.html", {
        "post": checkin, "circle": checkin.challenge.circle, "challenge": checkin.challenge,
        "comment_form": CommentForm(), "error": error.message if error else None,
        "nav_can_moderate": circle_rules.has_role(get_membership(checkin.challenge.circle, request.user),
                                                  Role.MODERATOR),
    }, status=error.status if error is not None else 200)


def _after(request: HttpRequest, slug: str, checkin: CheckIn, error: QuanziError | None) -> HttpResponse:
    """htmx: the post again (with the error, if any); otherwise back to the challenge page."""
    if _is_htmx(request):
        return _post_partial(request, checkin, error)
    if error is not None:
        messages.error(request, error.message)
    return redirect("checkins_detail", slug=slug, challenge_id=checkin.challenge_id)


@login_required
@require_POST
def like(request: HttpRequest, slug: str, checkin_id: int) -> HttpResponse:
    checkin = _checkin_in_circle(request, slug, checkin_id)
    error = None
    try:
        actions.do_like(user=request.user, checkin_id=checkin.id, like=request.POST.get("like", "1") != "0")
    except QuanziError as exc:
        error = exc
    return _after(request, slug, checkin, error)


@login_required
@require_POST
def comment(request: HttpRequest, slug: str, checkin_id: int) -> HttpResponse:
    checkin = _checkin_in_circle(request, slug, checkin_id)
    form = CommentForm(request.POST)
    error = None
    try:
        if not form.is_valid():
            raise_form(form)
        actions.do_comment(user=request.user, checkin_id=checkin.id, text=form.cleaned_data["text"])
    except QuanziError as exc:
        error = exc
    return _after(request, slug, checkin, error)


@login_required
@require_POST
def comment_delete(request: HttpRequest, slug: str, comment_id: int) -> HttpResponse:
    from .models import CheckInComment

    circle, _m = _circle(request, slug)
    found = CheckInComment.objects.filter(id=comment_id, checkin__challenge__circle=circle).first()
    if found is None:
        raise Http404(_("No such comment."))
    try:
        actions.do_delete_comment(user=request.user, comment_id=found.id)
    except Forbidden as exc:
        raise PermissionDenied(exc.message)
    return _after(request, slug, found.checkin, None)
