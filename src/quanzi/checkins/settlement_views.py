"""Deposit pages: the settlement report (each member's days, outcome and amount; the pool, fee and
leftover cents) and leaving a challenge before the start with the deposit refunded.

Thin: access (members of the circle only; the same 404 otherwise), then the report selector
(which decides the rows the viewer sees: organisers all, members their own) or the action.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from quanzi.circles import rules as circle_rules
from quanzi.circles.access import access_circle
from quanzi.circles.models import Role
from quanzi.core.errors import NotFound, QuanziError

from . import actions
from .access import access_challenge
from .settlement_report import settlement_report

ROWS_PER_PAGE = 500


@login_required
@require_GET
def settlement_report_page(request: HttpRequest, slug: str, challenge_id: int) -> HttpResponse:
    try:
        circle, _membership = access_circle(slug, request.user, require_member=True)
        challenge, membership = access_challenge(challenge_id, request.user, circle=circle)
    except NotFound:
        raise Http404(_("No such challenge."))
    try:
        offset = max(int(request.GET.get("offset", "0")), 0)
    except ValueError:
        offset = 0
    report = settlement_report(challenge, membership, request.user, limit=ROWS_PER_PAGE, offset=offset)
    context = {
        "circle": circle, "membership": membership, "tab": "checkins", "challenge": challenge, "report": report,
        "tz": circle.timezone,
        "nav": {"is_member": True, "can_manage": circle_rules.has_role(membership, Role.ADMIN),
                "can_moderate": circle_rules.has_role(membership, Role.MODERATOR)},
        "next_offset": offset + ROWS_PER_PAGE if offset + ROWS_PER_PAGE < report.total_rows else None,
        "prev_offset": max(offset - ROWS_PER_PAGE, 0) if offset else None,
    }
    return render(request, "checkins/settlement_report.html", context)


@login_required
@require_POST
def challenge_leave(request: HttpRequest, slug: str, challenge_id: int) -> HttpResponse:
    """Leave before the start; the deposit goes back to the wallet."""
    try:
        circle, _membership = access_circle(slug, request.user, require_member=True)
        challenge, _membership = access_challenge(challenge_id, request.user, circle=circle)
    except NotFound:
        raise Http404(_("No such challenge."))
    try:
        actions.do_leave_challenge(user=request.user, challenge=challenge)
    except QuanziError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("You left the challenge; any deposit is back in your wallet."))
    return redirect("checkins_detail", slug=circle.slug, challenge_id=challenge.id)
