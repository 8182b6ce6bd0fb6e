"""Web pages for direct messages: the Messages tab, starting a conversation, blocking.

The conversation itself is the chat room page (``web.views.room``) of the DM group, so it
is live over the same WebSocket as every group. Thin views: the rules are in
``circles.rules.check_start_dm``, called by ``chat.dms``.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from quanzi.circles import rules
from quanzi.circles.access import access_circle
from quanzi.circles.models import Role
from quanzi.core.errors import NotFound, QuanziError

from . import dms


def _member_circle(request: HttpRequest, slug: str):
    try:
        return access_circle(slug, request.user, require_member=True)
    except NotFound:
        raise Http404(_("No such circle."))


def _next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return fallback


@login_required
def dm_list(request: HttpRequest, slug: str) -> HttpResponse:
    """The viewer's conversations in this circle: the other person, the last message, unread count."""
    circle, membership = _member_circle(request, slug)
    context = {
        "circle": circle,
        "membership": membership,
        "nav": {
            "is_member": True,
            "can_manage": rules.has_role(membership, Role.ADMIN),
            "can_moderate": rules.has_role(membership, Role.MODERATOR),
        },
        "tab": "dms",
        "conversations": dms.dm_conversations(request.user, circle.id),
    }
    return render(request, "chat/dm_list.html", context)


@login_required
@require_POST
def dm_start(request: HttpRequest, slug: str, user_id: int) -> HttpResponse:
    """Open (creating on first use) the conversation with a member, or say why not."""
    circle, _membership = _member_circle(request, slug)
    try:
        group = dms.do_start_dm(actor=request.user, circle=circle, user_id=user_id)
    except QuanziError as exc:
        messages.error(request, exc.message)
        return redirect(_next(request, reverse("members", args=[circle.slug])))
    return redirect("room", slug=circle.slug, group_id=group.id)


@login_required
@require_POST
def block(request: HttpRequest, user_id: int) -> HttpResponse:
    try:
        block = dms.do_block(actor=request.user, user_id=user_id)
    except QuanziError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("You blocked %(name)s. Neither of you can send the other direct messages.")
                         % {"name": block.blocked.name})
    return redirect(_next(request, reverse("profile")))


@login_required
@require_POST
def unblock(request: HttpRequest, user_id: int) -> HttpResponse:
    try:
        dms.do_unblock(actor=request.user, user_id=user_id)
    except QuanziError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Unblocked."))
    return redirect(_next(request, reverse("profile")))
