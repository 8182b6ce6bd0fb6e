"""Server-rendered pages.

Views are thin (Zulip / Misago style): fetch with an access helper, call the action,
then render the page, return the htmx partial, or redirect. Domain errors
(:class:`QuanziError`) become a visible message; permissions come from
``circles.rules`` only.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import F
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import strip_tags
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from quanzi.accounts import actions as account_actions
from quanzi.accounts.forms import ProfileForm
from quanzi.accounts.selectors import api_tokens
from quanzi.chat import actions as chat_actions
from quanzi.chat import dms
from quanzi.chat import selectors as chat_selectors
from quanzi.chat.access import access_group
from quanzi.chat.models import GroupKind
from quanzi.circles import actions as circle_actions
from quanzi.circles import rules
from quanzi.circles import selectors as circle_selectors
from quanzi.circles.access import access_circle, access_join_request, access_member, get_membership
from quanzi.circles.models import Circle, JoinMode, JoinRequestStatus, Membership, MembershipStatus, Role
from quanzi.core.errors import Forbidden, InvalidInput, NotFound, QuanziError
from quanzi.moderation.chatui import chat_config as moderation_chat_config

from . import forms

# --- helpers ------------------------------------------------------------------------------


def is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _circle(request: HttpRequest, slug: str, *, require_member: bool = False) -> tuple[Circle, Membership | None]:
    """The circle if the user may see it; otherwise a 404 that looks like a missing one."""
    try:
        return access_circle(slug, request.user, require_member=require_member)
    except NotFound:
        raise Http404(_("No such circle."))


def _require(check, *args) -> None:
    """Run a ``rules.check_*``; members lacking the role get 403 (they know the circle exists)."""
    try:
        check(*args)
    except Forbidden as exc:
        raise PermissionDenied(exc.message)


def _group_in_circle(request: HttpRequest, slug: str, group_id: int, *, require_seat: bool = True):
    try:
        group, membership = access_group(group_id, request.user, require_seat=require_seat)
    except NotFound:
        raise Http404(_("No such group."))
    if group.circle.slug != slug:
        raise Http404(_("No such group."))
    return group, membership


def _safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return fallback


def _first_error(form) -> str:
    for errors in form.errors.values():
        return str(errors[0])
    return _("Invalid input.")


# --- home and circles ---------------------------------------------------------------------


def home(request: HttpRequest) -> HttpResponse:
    mine: list[dict[str, Any]] = []
    joined_ids: set[int] = set()
    if request.user.is_authenticated:
        unread = chat_selectors.unread_by_circle(request.user)
        for m in circle_selectors.my_memberships(request.user):
            mine.append({"circle": m.circle, "role": m.get_role_display(), "unread": unread.get(m.circle_id, 0)})
            joined_ids.add(m.circle_id)
    discover = circle_selectors.public_circles(exclude_ids=joined_ids)[:24]
    return render(request, "web/home.html", {"mine": mine, "discover": discover})


@login_required
@require_http_methods(["GET", "POST"])
def circle_create(request: HttpRequest) -> HttpResponse:
    initial = {"timezone": request.user.timezone, "language": request.user.language}
    form = forms.CreateCircleForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            circle = circle_actions.do_create_circle(
                owner=request.user,
                name=data["name"],
                slug=data["slug"] or None,
                description=data["description"],
                rules_text=data["rules_text"],
                visibility=data["visibility"],
                join_mode=data["join_mode"],
                timezone_name=data["timezone"],
                language=data["language"],
                with_channel=data["with_channel"],
            )
        except QuanziError as exc:
            form.add_domain_error(exc)
        else:
            messages.success(request, _("Your circle is ready. Invite people from the Invites page."))
            return redirect("circle", slug=circle.slug)
    status = 400 if request.method == "POST" else 200
    return render(request, "web/circle_create.html", {"form": form}, status=status)


def _circle_nav(circle: Circle, membership: Membership | None) -> dict[str, bool]:
    """Which management tabs to show; the rules decide, the template only reads booleans."""
    return {
        "is_member": rules.is_active(membership),
        "can_manage": rules.has_role(membership, Role.ADMIN),
        "can_moderate": rules.has_role(membership, Role.MODERATOR),
    }


def circle_detail(request: HttpRequest, slug: str) -> HttpResponse:
    circle, membership = _circle(request, slug)
    nav = _circle_nav(circle, membership)
    if nav["is_member"] and not membership.onboarding_done:
        return redirect("welcome", slug=circle.slug)
    groups = []
    unread: dict[int, int] = {}
    pending_request = None
    if nav["is_member"]:
        groups = list(chat_selectors.groups_for_member(request.user, circle.id))
        unread = chat_selectors.unread_counts(request.user, circle_id=circle.id)
        for group in groups:
            group.unread = unread.get(group.id, 0)
    else:
        pending_request = circle_selectors.pending_join_request(circle, request.user)
    context = {
        "circle": circle,
        "membership": membership,
        "groups": groups,
        "nav": nav,
        "tab": "about",
        "banned": membership is not None and membership.status == MembershipStatus.BANNED,
        "pending_request": pending_request,
        "join_form": forms.JoinForm(),
        "pending_count": circle_selectors.pending_join_request_count(circle) if nav["can_moderate"] else 0,
    }
    return render(request, "web/circle_detail.html", context)


@login_required
@require_POST
def circle_join(request: HttpRequest, slug: str) -> HttpResponse:
    circle, _membership = _circle(request, slug)
    form = forms.JoinForm(request.POST)
    message = form.cleaned_data["message"] if form.is_valid() else ""
    try:
        result = circle_actions.do_join_circle(user=request.user, circle=circle, message=message)
    except QuanziError as exc:
        messages.error(request, exc.message)
        return redirect("circle", slug=circle.slug)
    if result.status == "requested":
        messages.success(request, _("Your request to join was sent to the admins."))
        return redirect("circle", slug=circle.slug)
    return redirect("welcome", slug=circle.slug)


@login_required
@require_POST
def circle_leave(request: HttpRequest, slug: str) -> HttpResponse:
    circle, _membership = _circle(request, slug, require_member=True)
    try:
        circle_actions.do_leave_circle(user=request.user, circle=circle)
    except QuanziError as exc:
        messages.error(request, exc.message)
        return redirect("circle", slug=circle.slug)
    messages.success(request, _("You left %(circle)s.") % {"circle": circle.name})
    return redirect("home")


@login_required
@require_POST
def channel_follow(request: HttpRequest, slug: str) -> HttpResponse:
    circle, _membership = _circle(request, slug, require_member=True)
    follow = request.POST.get("follow") == "1"
    try:
        circle_actions.do_set_channel_follow(user=request.user, circle=circle, follow=follow)
    except QuanziError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, _("You follow the announcement channel.") if follow else _("You unfollowed the channel.")
        )
    return redirect(_safe_next(request, reverse("circle", args=[circle.slug])))


# --- onboarding and invite links ----------------------------------------------------------


@login_required
def welcome(request: HttpRequest, slug: str) -> HttpResponse:
    circle, membership = _circle(request, slug, require_member=True)
    text = circle_actions.render_welcome(
        circle.welcome_template, name=request.user.name, circle=circle.name, rules=circle.rules_text
    )
    return render(request, "web/welcome.html", {"circle": circle, "membership": membership, "welcome_text": text})


@login_required
@require_POST
def welcome_done(request: HttpRequest, slug: str) -> HttpResponse:
    """Finish onboarding: follow the channel (``follow=1``) or skip, then enter the chat."""
    circle, _membership = _circle(request, slug, require_member=True)
    try:
        if request.POST.get("follow") == "1":
            circle_actions.do_set_channel_follow(user=request.user, circle=circle, follow=True)
            messages.success(request, _("You follow the announcement channel."))
        else:
            circle_actions.do_finish_onboarding(user=request.user, circle=circle)
    except QuanziError as exc:
        messages.error(request, exc.message)
        return redirect("welcome", slug=circle.slug)
    if circle.main_group_id:
        return redirect("room", slug=circle.slug, group_id=circle.main_group_id)
    return redirect("circle", slug=circle.slug)


INVITE_PROBLEMS = {
    "invite_revoked": _("This invite link has been revoked."),
    "invite_expired": _("This invite link has expired."),
    "invite_used_up": _("This invite link has been used up."),
}


@require_http_methods(["GET", "POST"])
def join_by_invite(request: HttpRequest, code: str) -> HttpResponse:
    try:
        invite = circle_actions.access_invite(code)
    except NotFound:
        return render(request, "web/join.html", {"missing": True}, status=404)
    circle = invite.circle
    membership = get_membership(circle, request.user)
    error = None
    status = 200
    if request.method == "POST":
        if not request.user.is_authenticated:
            return redirect(f"{reverse('account_login')}?next={request.path}")
        form = forms.JoinForm(request.POST)
        message = form.cleaned_data["message"] if form.is_valid() else ""
        try:
            result = circle_actions.do_accept_invite(user=request.user, code=invite.code, message=message)
        except QuanziError as exc:
            error, status = exc.message, exc.status
        else:
            if result.status == "joined":
                return redirect("welcome", slug=circle.slug)
            messages.success(request, _("Your request to join was sent to the admins."))
            return redirect("join", code=invite.code)
    problem = invite.usable_reason()
    pending = circle_selectors.pending_join_request(circle, request.user) is not None
    context = {
        "invite": invite,
        "circle": circle,
        "membership": membership,
        "is_member": rules.is_active(membership),
        "banned": membership is not None and membership.status == MembershipStatus.BANNED,
        "problem": INVITE_PROBLEMS.get(problem) if problem else None,
        "error": error,
        "pending": pending,
        "needs_approval": circle.join_mode == JoinMode.APPROVAL,
        "join_form": forms.JoinForm(),
    }
    return render(request, "web/join.html", context, status=status)


# --- groups and the chat room -------------------------------------------------------------


def chat_strings() -> dict[str, str]:
    """UI strings chat.js needs, translated here so the script has no language of its own."""
    return {
        "reply": _("Reply"),
        "edit": _("Edit"),
        "delete": _("Delete"),
        "pin": _("Pin"),
        "unpin": _("Unpin"),
        "save": _("Save"),
        "cancel": _("Cancel"),
        "edited": _("(edited)"),
        "deleted": _("This message was deleted."),
        "system": _("Quanzi"),
        "pinned": _("Pinned"),
        "confirmDelete": _("Delete this message?"),
        "replyingTo": _("Replying to %(name)s"),
        "unknown": _("Someone"),
        "mutedUntil": _("You are muted until %(until)s."),
        "reason": _("Reason:"),
        "removed": _("You are no longer a member of this circle."),
        "offline": _("Connection lost. Reconnecting…"),
        "live": _("Connected"),
        "connecting": _("Connecting…"),
        "sendFailed": _("The message could not be sent. Please try again."),
        "tooLong": _("The message is %(n)d characters long; the limit is %(limit)d."),
        "newMessages": _("New messages"),
        "archivedCopy": _("archived copy"),
    }


@login_required
def room(request: HttpRequest, slug: str, group_id: int) -> HttpResponse:
    group, membership = _group_in_circle(request, slug, group_id)
    circle = group.circle
    page, has_more = chat_selectors.message_page(group, viewer_id=request.user.id)
    if page:
        # Opening the room reads it; the read marker only ever moves forward.
        chat_actions.do_mark_read(user=request.user, group=group, message_id=page[-1].id)
    pinned = chat_selectors.pinned_messages(group, limit=5)
    can_moderate = rules.has_role(membership, Role.MODERATOR)
    can_post = group.kind != GroupKind.CHANNEL or rules.has_role(membership, Role.ADMIN)
    dm = dms.dm_room(group, membership) if group.kind == GroupKind.DM else None
    if dm is not None:  # a direct conversation: no moderation tools; sending as its rule says (chat DMs)
        can_moderate, can_post = False, dm.can_send
    config = {
        "groupId": group.id,
        "circleSlug": circle.slug,
        "me": {"id": request.user.id, "username": request.user.username, "role": membership.role},
        "canModerate": can_moderate,
        "canPost": can_post,
        "editWindowSeconds": settings.QUANZI_EDIT_WINDOW_SECONDS,
        "maxLength": settings.QUANZI_MESSAGE_MAX_LENGTH,
        "hasMore": has_more,
        "timezone": request.user.timezone,
        "circleId": circle.id,
        "wsPath": "/ws/",
        "endpoints": {
            "messages": f"/api/groups/{group.id}/messages",
            "message": "/api/messages/{id}",
            "pin": "/api/messages/{id}/pin",
            "links": f"/api/circles/{circle.slug}/links?kind=message&ids=",
        },
        "strings": chat_strings(),
        "moderation": moderation_chat_config(circle),
        "pinned": [
            {
                "id": m.id,
                "excerpt": " ".join(strip_tags(m.body_html).split())[:140],
                "author": m.author.name if m.author else "",
            }
            for m in pinned
        ],
    }
    context = {
        "circle": circle,
        "group": group,
        "membership": membership,
        "nav": _circle_nav(circle, membership),
        "groups": list(chat_selectors.groups_for_member(request.user, circle.id, joined_only=True)),
        "initial_messages": chat_selectors.messages_to_dicts(page),
        "chat_config": config,
        "dm": dm,
        "can_post": can_post,
        "can_moderate": can_moderate,
        "muted": membership.is_muted(),
        "moderation_form": forms.GroupModerationForm(
            initial={"mute_all": group.mute_all, "slow_mode_seconds": group.slow_mode_seconds}
        ),
    }
    return render(request, "web/room.html", context)


@login_required
@require_POST
def group_join(request: HttpRequest, slug: str, group_id: int) -> HttpResponse:
    group, _membership = _group_in_circle(request, slug, group_id, require_seat=False)
    try:
        chat_actions.do_join_group(user=request.user, group=group)
    except QuanziError as exc:
        messages.error(request, exc.message)
        return redirect("circle", slug=slug)
    return redirect("room", slug=slug, group_id=group.id)


@login_required
@require_POST
def group_leave(request: HttpRequest, slug: str, group_id: int) -> HttpResponse:
    group, _membership = _group_in_circle(request, slug, group_id, require_seat=False)
    try:
        chat_actions.do_leave_group(user=request.user, group=group)
    except QuanziError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("You left %(group)s.") % {"group": group.name})
    return redirect("circle", slug=slug)


@login_required
@require_POST
def group_settings(request: HttpRequest, slug: str, group_id: int) -> HttpResponse:
    """Mute-all and slow mode (moderators and up, as the action checks)."""
    group, _membership = _group_in_circle(request, slug, group_id, require_seat=False)
    form = forms.GroupModerationForm(request.POST)
    fallback = reverse("room", args=[slug, group.id])
    if not form.is_valid():
        messages.error(request, _first_error(form))
        return redirect(_safe_next(request, fallback))
    try:
        chat_actions.do_update_group(
            actor=request.user,
            group=group,
            mute_all=form.cleaned_data["mute_all"],
            slow_mode_seconds=form.cleaned_data["slow_mode_seconds"],
        )
    except QuanziError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Settings of %(group)s saved.") % {"group": group.name})
    return redirect(_safe_next(request, fallback))


# --- members and moderation ---------------------------------------------------------------


def member_row_context(actor: Membership | None, target: Membership) -> dict[str, Any]:
    """What the actor may do to this member, asked of ``rules`` (templates only read flags)."""
    role_choices = []
    for role in (Role.ADMIN, Role.MODERATOR, Role.MEMBER):
        try:
            rules.check_set_role(actor, target, role)
        except Forbidden:
            continue
        role_choices.append((role.value, role.label))
    active = target.status == MembershipStatus.ACTIVE
    return {
        "m": target,
        "can_moderate": active and rules.can_act_on(actor, target),
        "role_choices": role_choices if active else [],
        "can_unban": target.status == MembershipStatus.BANNED and rules.has_role(actor, Role.MODERATOR),
        "muted": active and target.is_muted(),
    }


def members(request: HttpRequest, slug: str) -> HttpResponse:
    circle, membership = _circle(request, slug, require_member=True)
    nav = _circle_nav(circle, membership)
    query = (request.GET.get("q") or "").strip()[:100]
    status = request.GET.get("status", "active")
    if status not in ("active", "banned") or (status == "banned" and not rules.can_view_former_members(membership)):
        status = "active"
    qs = circle_selectors.circle_members(circle, status=status, q=query, order="username")
    page = Paginator(qs, 100).get_page(request.GET.get("page"))
    rows = [member_row_context(membership, m) for m in page.object_list]
    context = {
        "circle": circle,
        "membership": membership,
        "nav": nav,
        "tab": "members",
        "rows": rows,
        "page": page,
        "query": query,
        "status": status,
    }
    return render(request, "web/members.html", context)


MEMBER_ACTION_DONE = {
    "role": _("Role changed."),
    "mute": _("Member muted."),
    "unmute": _("Member unmuted."),
    "kick": _("Member removed from the circle."),
    "ban": _("Member banned."),
    "unban": _("Member unbanned."),
}


@login_required
@require_POST
def member_action(request: HttpRequest, slug: str, user_id: int, action: str) -> HttpResponse:
    """One endpoint per member action (Misago style): act, then the row partial or a redirect."""
    if action not in MEMBER_ACTION_DONE:
        raise Http404
    circle, _membership = _circle(request, slug, require_member=True)
    form = forms.MemberActionForm(request.POST)
    error: QuanziError | None = None
    try:
        if not form.is_valid():
            raise InvalidInput(_first_error(form))
        data = form.cleaned_data
        common = {"actor": request.user, "circle": circle, "user_id": user_id, "reason": data["reason"]}
        if action == "role":
            circle_actions.do_set_role(role=data["role"] or "", **common)
        elif action == "mute":
            if data["minutes"] is None:
                raise InvalidInput(_("Give the mute length as a positive number of minutes."))
            circle_actions.do_mute_member(minutes=data["minutes"], **common)
        elif action == "unmute":
            circle_actions.do_unmute_member(**common)
        elif action == "kick":
            circle_actions.do_kick_member(**common)
        elif action == "ban":
            circle_actions.do_ban_member(**common)
        else:
            circle_actions.do_unban_member(**common)
    except QuanziError as exc:
        error = exc
    if is_htmx(request):
        try:
            target = access_member(circle, user_id)
        except NotFound:
            raise Http404(_("No such member."))
        context = member_row_context(get_membership(circle, request.user), target) | {
            "circle": circle,
            "error": error.message if error else None,
            "done": None if error else MEMBER_ACTION_DONE[action],
        }
        return render(request, "web/partials/member_row.html", context, status=error.status if error else 200)
    if error:
        messages.error(request, error.message)
    else:
        messages.success(request, MEMBER_ACTION_DONE[action])
    return redirect(_safe_next(request, reverse("members", args=[circle.slug])))


# --- admin pages --------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def circle_settings(request: HttpRequest, slug: str) -> HttpResponse:
    circle, membership = _circle(request, slug, require_member=True)
    _require(rules.check_manage_circle, membership)
    fields = ["name", "description", "rules_text", "visibility", "join_mode", "timezone", "language",
              "welcome_template", "dm_policy", "members_can_post", "upload_limit_mb"]
    initial = {f: getattr(circle, f) for f in fields}
    initial["members_can_post"] = "1" if circle.members_can_post else "0"
    form = forms.CircleSettingsForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                circle_actions.do_update_circle(actor=request.user, circle=circle, **form.cleaned_data)
            except QuanziError as exc:
                form.add_domain_error(exc)
            else:
                messages.success(request, _("Settings saved."))
                return redirect("circle_settings", slug=circle.slug)
        status = 400
    groups = list(chat_selectors.open_groups(circle.id))
    for group in groups:
        group.moderation_form = forms.GroupModerationForm(
            initial={"mute_all": group.mute_all, "slow_mode_seconds": group.slow_mode_seconds},
            auto_id=f"id_g{group.id}_%s",
        )
    context = {
        "circle": circle,
        "membership": membership,
        "nav": _circle_nav(circle, membership),
        "tab": "settings",
        "form": form,
        "groups": groups,
        "group_form": forms.GroupCreateForm(),
        "avatar_form": forms.CircleAvatarForm(),
        "follow": circle_selectors.channel_follow_stats(circle),
    }
    return render(request, "web/circle_settings.html", context, status=status)


@login_required
@require_POST
def circle_avatar(request: HttpRequest, slug: str) -> HttpResponse:
    """Upload the circle's picture, or remove it (``remove``), from the settings page."""
    circle, membership = _circle(request, slug, require_member=True)
    _require(rules.check_manage_circle, membership)
    remove = "remove" in request.POST
    form = forms.CircleAvatarForm(request.POST, request.FILES)
    if not remove and not form.is_valid():
        messages.error(request, _first_error(form))
        return redirect("circle_settings", slug=circle.slug)
    try:
        circle_actions.do_set_circle_avatar(
            actor=request.user, circle=circle, upload=None if remove else form.cleaned_data["avatar"]
        )
    except QuanziError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Circle picture removed.") if remove else _("Circle picture saved."))
    return redirect("circle_settings", slug=circle.slug)


@login_required
@require_POST
def group_create(request: HttpRequest, slug: str) -> HttpResponse:
    """Create a group, or (``kind=channel``) the announcement channel."""
    circle, membership = _circle(request, slug, require_member=True)
    _require(rules.check_manage_circle, membership)
    kind = GroupKind.CHANNEL if request.POST.get("kind") == GroupKind.CHANNEL else GroupKind.GROUP
    data = request.POST.copy()
    if kind == GroupKind.CHANNEL and not data.get("name"):
        data["name"] = _("Announcements")
    form = forms.GroupCreateForm(data)
    if not form.is_valid():
        messages.error(request, _first_error(form))
        return redirect("circle_settings", slug=circle.slug)
    try:
        group = chat_actions.do_create_group(
            actor=request.user, circle=circle, name=form.cleaned_data["name"], topic=form.cleaned_data["topic"],
            kind=kind,
        )
    except QuanziError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Created %(group)s.") % {"group": group.name})
    return redirect("circle_settings", slug=circle.slug)


@login_required
def audit_log(request: HttpRequest, slug: str) -> HttpResponse:
    circle, membership = _circle(request, slug, require_member=True)
    _require(rules.check_read_audit, membership)
    form = forms.AuditFilterForm(request.GET or None, actions=circle_selectors.audit_action_names(circle))
    # The form offers usernames (no ids) and lets the target match the entry's description too.
    filters = form.cleaned_data if form.is_valid() else {}
    entries = circle_selectors.audit_entries(
        circle,
        action=filters.get("action", ""),
        actor=filters.get("actor", ""),
        target=filters.get("target", ""),
        match_ids=False,
        match_target_text=True,
    )
    page = Paginator(entries, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "circle": circle,
        "membership": membership,
        "nav": _circle_nav(circle, membership),
        "tab": "audit",
        "form": form,
        "page": page,
        "query": query.urlencode(),
    }
    return render(request, "web/audit.html", context)


@login_required
def join_requests(request: HttpRequest, slug: str) -> HttpResponse:
    circle, membership = _circle(request, slug, require_member=True)
    _require(rules.check_decide_join_requests, membership)
    context = {
        "circle": circle,
        "membership": membership,
        "nav": _circle_nav(circle, membership),
        "tab": "requests",
        "pending": circle_selectors.join_requests(circle, status=JoinRequestStatus.PENDING)[:200],
        "recent": circle_selectors.recent_join_decisions(circle, limit=20),
    }
    return render(request, "web/join_requests.html", context)


@login_required
@require_POST
def join_request_decide(request: HttpRequest, slug: str, request_id: int) -> HttpResponse:
    circle, membership = _circle(request, slug, require_member=True)
    _require(rules.check_decide_join_requests, membership)
    try:
        join_request = access_join_request(circle, request_id)
    except NotFound:
        raise Http404(_("No such join request."))
    approve = request.POST.get("decision") == "approve"
    form = forms.DecideForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    error = None
    try:
        join_request = circle_actions.do_decide_join_request(
            actor=request.user, request_id=join_request.id, approve=approve, reason=reason
        )
    except QuanziError as exc:
        error = exc
        join_request.refresh_from_db()
    if is_htmx(request):
        return render(
            request,
            "web/partials/join_request_row.html",
            {"circle": circle, "jr": join_request, "error": error.message if error else None},
            status=error.status if error else 200,
        )
    if error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Request approved.") if approve else _("Request rejected."))
    return redirect("join_requests", slug=circle.slug)


INVITE_ERROR_FIELDS = {"invalid_max_uses": "max_uses", "invalid_expiry": "expires_in_hours"}


def _invite_row(request: HttpRequest, invite) -> dict[str, Any]:
    problem = invite.usable_reason()
    return {
        "invite": invite,
        "link": request.build_absolute_uri(reverse("join", args=[invite.code])),
        "problem": INVITE_PROBLEMS.get(problem) if problem else None,
    }


@login_required
@require_http_methods(["GET", "POST"])
def invites(request: HttpRequest, slug: str) -> HttpResponse:
    circle, membership = _circle(request, slug, require_member=True)
    _require(rules.check_manage_circle, membership)
    form = forms.InviteForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                invite = circle_actions.do_create_invite(
                    actor=request.user, circle=circle, expires_in_hours=data["expires_in_hours"],
                    max_uses=data["max_uses"], note=data["note"],
                )
            except QuanziError as exc:
                form.add_error(INVITE_ERROR_FIELDS.get(exc.code), exc.message)
            else:
                messages.success(request, _("Invite link created: %(link)s") % {
                    "link": request.build_absolute_uri(reverse("join", args=[invite.code]))})
                return redirect("invites", slug=circle.slug)
        status = 400
    rows = [_invite_row(request, i) for i in circle_selectors.circle_invites(circle, include_revoked=True)[:100]]
    context = {
        "circle": circle,
        "membership": membership,
        "nav": _circle_nav(circle, membership),
        "tab": "invites",
        "form": form,
        "rows": rows,
    }
    return render(request, "web/invites.html", context, status=status)


@login_required
@require_POST
def invite_revoke(request: HttpRequest, slug: str, invite_id: int) -> HttpResponse:
    circle, membership = _circle(request, slug, require_member=True)
    error = None
    invite = None
    try:
        invite = circle_actions.do_revoke_invite(actor=request.user, circle=circle, invite_id=invite_id)
    except NotFound:
        raise Http404(_("No such invite."))
    except Forbidden as exc:
        raise PermissionDenied(exc.message)
    except QuanziError as exc:
        error = exc
    if is_htmx(request) and invite is not None:
        return render(request, "web/partials/invite_row.html", _invite_row(request, invite) | {"circle": circle})
    if error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Invite link revoked."))
    return redirect("invites", slug=circle.slug)


# --- personal pages -----------------------------------------------------------------------


@login_required
def notices(request: HttpRequest) -> HttpResponse:
    qs = chat_selectors.notices_for(request.user).select_related("circle", "message")
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(request, "web/notices.html", {"page": page})


@login_required
@require_POST
def notices_read(request: HttpRequest) -> HttpResponse:
    raw = request.POST.get("notice_id")
    ids = None
    if raw:
        try:
            ids = [int(raw)]
        except ValueError:
            messages.error(request, _("Invalid notice."))
            return redirect("notices")
    chat_actions.do_mark_notices_read(user=request.user, notice_ids=ids)
    if is_htmx(request) and ids:
        notice = chat_selectors.notices_for(request.user).filter(id=ids[0]).select_related("circle", "message").first()
        if notice is None:
            raise Http404
        return render(request, "web/partials/notice_row.html", {"n": notice})
    return redirect("notices")


@login_required
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    user = request.user
    initial = {"display_name": user.display_name, "bio": user.bio, "language": user.language,
               "timezone": user.timezone}
    form = ProfileForm(request.POST or None, request.FILES or None, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                account_actions.do_update_profile(
                    user=user, display_name=data["display_name"], bio=data["bio"], language=data["language"],
                    timezone_name=data["timezone"],
                )
            except QuanziError as exc:
                form.add_domain_error(exc)
            else:
                if data["avatar"] is not None:
                    account_actions.do_set_avatar(user=user, upload=data["avatar"])
                elif data["remove_avatar"] and user.avatar:
                    account_actions.do_set_avatar(user=user, upload=None)
                messages.success(request, _("Profile saved."))
                response = redirect("profile")
                # The language just chosen wins over an older language-switch cookie.
                response.set_cookie(settings.LANGUAGE_COOKIE_NAME, data["language"], samesite="Lax")
                return response
        status = 400
    return render(request, "web/profile.html", {"form": form}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def tokens(request: HttpRequest) -> HttpResponse:
    form = forms.TokenForm(request.POST or None)
    raw = None
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                _token, raw = account_actions.do_create_token(user=request.user, name=form.cleaned_data["name"])
            except QuanziError as exc:
                form.add_error("name", exc.message)
                status = exc.status
            else:
                form = forms.TokenForm()
        else:
            status = 400
    # Working tokens first on every database (PostgreSQL sorts NULLs last by default).
    rows = api_tokens(request.user, include_revoked=True).order_by(F("revoked_at").asc(nulls_first=True), "-id")[:100]
    return render(request, "web/tokens.html", {"form": form, "raw_token": raw, "tokens": rows}, status=status)


@login_required
@require_POST
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    try:
        account_actions.do_revoke_token(user=request.user, token_id=token_id)
    except NotFound:
        raise Http404(_("No such token."))
    messages.success(request, _("Token revoked."))
    return redirect("tokens")
