"""Web pages: the review queue (moderators), moderation settings (admins), reporting (members).

Thin: access the circle, call the action, render. Decisions and reports answer htmx with a
partial and plain forms with a redirect.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from quanzi.accounts.models import User
from quanzi.core.errors import Forbidden, QuanziError
from quanzi.web.views import _circle, _circle_nav, _first_error, _safe_next, is_htmx

from . import actions, rules, selectors
from .forms import DecideForm, PolicyForm, ReportForm, TrustForm
from .learning import learned_from
from .models import ItemStatus
from .policy import ensure_policy


def _require(check, membership) -> None:
    try:
        check(membership)
    except Forbidden as exc:
        raise PermissionDenied(exc.message)


@login_required
def queue(request: HttpRequest, slug: str) -> HttpResponse:
    circle, membership = _circle(request, slug, require_member=True)
    _require(rules.check_review, membership)
    status = request.GET.get("status") or ItemStatus.PENDING
    if status not in ItemStatus.values:
        status = ItemStatus.PENDING
    items = selectors.queue_items(circle.id, status=status, limit=100)
    return render(request, "moderation/queue.html", {
        "circle": circle, "membership": membership, "nav": _circle_nav(circle, membership),
        "tab": "moderation_queue", "items": items, "status": status, "statuses": ItemStatus.choices,
        "learned_from": learned_from(circle.id), "pending": selectors.pending_count(circle.id),
    })


@login_required
@require_POST
def decide(request: HttpRequest, slug: str, item_id: int) -> HttpResponse:
    circle, membership = _circle(request, slug, require_member=True)
    _require(rules.check_review, membership)
    form = DecideForm(request.POST)
    error = None
    item = None
    if not form.is_valid():
        error = _first_error(form)
    else:
        try:
            item = actions.do_decide(actor=request.user, circle=circle, item_id=item_id,
                                     decision=form.cleaned_data["decision"], reason=form.cleaned_data["reason"])
        except Forbidden as exc:
            if exc.code == "insufficient_role":
                raise PermissionDenied(exc.message)
            error = exc.message
        except QuanziError as exc:
            error = exc.message
    if is_htmx(request):
        if item is None:
            item = selectors.queue_item(circle.id, item_id)
        return render(request, "moderation/_item.html", {"circle": circle, "item": item, "error": error},
                      status=400 if error and item is None else 200)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, _("Decision recorded."))
    return redirect(_safe_next(request, reverse("moderation_queue", args=[circle.slug])))


@login_required
def settings_page(request: HttpRequest, slug: str) -> HttpResponse:
    circle, membership = _circle(request, slug, require_member=True)
    _require(rules.check_manage_policy, membership)
    policy = ensure_policy(circle.id)
    form = PolicyForm(request.POST or None, instance=policy)
    if request.method == "POST":
        if form.is_valid():
            changes = {name: form.cleaned_data[name] for name in form.fields}
            try:
                actions.do_update_policy(actor=request.user, circle=circle, **changes)
            except QuanziError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, _("Moderation settings saved."))
                return redirect("moderation_settings", circle.slug)
        policy.refresh_from_db()
    return render(request, "moderation/settings.html", {
        "circle": circle, "membership": membership, "nav": _circle_nav(circle, membership),
        "tab": "moderation_settings", "form": form, "trust_form": TrustForm(),
        "trust_rows": selectors.trust_rows(circle.id), "learned_from": learned_from(circle.id),
    }, status=400 if request.method == "POST" else 200)


@login_required
@require_POST
def set_trust(request: HttpRequest, slug: str) -> HttpResponse:
    circle, membership = _circle(request, slug, require_member=True)
    _require(rules.check_manage_policy, membership)
    form = TrustForm(request.POST)
    if not form.is_valid():
        messages.error(request, _first_error(form))
        return redirect("moderation_settings", circle.slug)
    user = User.objects.filter(username=form.cleaned_data["username"].strip()).first()
    level = form.cleaned_data["level"]
    try:
        if user is None:
            raise QuanziError(_("No such member."), code="member_not_found")
        actions.do_set_trust_level(actor=request.user, circle=circle, user_id=user.id,
                                   level=int(level) if level not in ("", None) else None)
    except QuanziError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Trust level saved."))
    return redirect("moderation_settings", circle.slug)


@login_required
@require_POST
def report(request: HttpRequest, slug: str) -> HttpResponse:
    circle, membership = _circle(request, slug, require_member=True)
    form = ReportForm(request.POST)
    error = None
    if not form.is_valid():
        error = _first_error(form)
    else:
        try:
            actions.do_report(reporter=request.user, circle=circle, kind=form.cleaned_data["kind"],
                              object_id=form.cleaned_data["object_id"], reason=form.cleaned_data["reason"])
        except QuanziError as exc:
            error = exc.message
    if is_htmx(request):
        return render(request, "moderation/_reported.html", {"error": error}, status=400 if error else 200)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, _("Thank you — the moderators will look at it."))
    return redirect(_safe_next(request, reverse("circle", args=[circle.slug])))

