"""Feed pages (server-rendered, htmx): the feed, compose, post detail with comments, and the buttons.

Thin views: ``circles.access`` for the circle, ``feed.selectors`` for reads, ``feed.actions`` for
writes, ``feed.rules`` for what to show. Buttons posted with htmx get the changed fragment back;
without JavaScript every form still works through a redirect.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from quanzi.archive import actions as archive_actions
from quanzi.circles.access import access_circle
from quanzi.circles.models import Circle, Membership
from quanzi.core.errors import Forbidden, InvalidInput, NotFound, QuanziError

from . import actions, rules, selectors
from .models import PostVisibility


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _member_circle(request: HttpRequest, slug: str) -> tuple[Circle, Membership]:
    try:
        circle, membership = access_circle(slug, request.user, require_member=True)
    except NotFound:
        raise Http404(_("No such circle."))
    return circle, membership


def _nav(membership: Membership | None) -> dict[str, bool]:
    return {"is_member": rules.is_member(membership), "can_manage": rules.is_admin(membership),
            "can_moderate": rules.is_moderator(membership)}


def _paid_plans(circle: Circle) -> list:
    from quanzi.payments.models import PlanKind, PricePlan

    return list(PricePlan.objects.filter(circle=circle, active=True).exclude(kind=PlanKind.FREE).order_by("amount"))


def _base_context(circle: Circle, membership: Membership, viewer: rules.Viewer) -> dict[str, Any]:
    return {"circle": circle, "membership": membership, "nav": _nav(membership), "tab": "feed", "viewer": viewer,
            "can_pin": rules.is_admin(membership), "can_comment": rules.can_comment(membership)}


def _error(request: HttpRequest, exc: QuanziError, fallback: str) -> HttpResponse:
    """htmx: the message in place with the error's status. Plain forms: 404/403 pages, or back with a message."""
    if _is_htmx(request):
        return HttpResponse(format_html('<p class="error" role="alert">{}</p>', exc.message), status=exc.status)
    if isinstance(exc, NotFound):
        raise Http404(exc.message)
    if isinstance(exc, Forbidden):
        raise PermissionDenied(exc.message)
    messages.error(request, exc.message)
    return redirect(fallback)


# --- the feed -----------------------------------------------------------------------------


@login_required
def feed(request: HttpRequest, slug: str) -> HttpResponse:
    """The feed; ``?featured=1`` featured posts, ``?tag=`` one tag, ``?cursor=`` the next page (htmx: items only)."""
    circle, membership = _member_circle(request, slug)
    viewer = rules.Viewer(membership)
    featured = request.GET.get("featured") == "1"
    tag = request.GET.get("tag") or None
    cursor = request.GET.get("cursor") or None
    context = _base_context(circle, membership, viewer)
    try:
        page = selectors.feed_page(circle, viewer, cursor=cursor, featured=featured, tag=tag)
    except InvalidInput as exc:
        if _is_htmx(request):
            return _error(request, exc, "")
        context.update(page=None, error=exc.message, featured=featured, tag=tag)
        return render(request, "feed/feed.html", context, status=400)
    _with_link_cards(page.items)
    context.update(page=page, featured=featured, tag=tag or "", more_url=_more_url(circle, page, featured, tag))
    if _is_htmx(request) and cursor:
        return render(request, "feed/_posts.html", context)
    context.update(
        can_post=rules.can_create_post(membership, circle), plans=_paid_plans(circle),
        visibilities=PostVisibility.choices, popular_tags=selectors.popular_tags(circle),
        form=request.session.pop("feed_draft", None) or {}, max_files=actions.ATTACHMENTS_MAX,
        upload_limit_mb=circle.upload_limit_mb,
    )
    return render(request, "feed/feed.html", context)


def _more_url(circle: Circle, page, featured: bool, tag: str | None) -> str | None:
    if not page.next_cursor:
        return None
    from urllib.parse import urlencode

    query = {"cursor": page.next_cursor}
    if featured:
        query["featured"] = "1"
    if tag:
        query["tag"] = tag
    return reverse("feed", args=[circle.slug]) + "?" + urlencode(query)


@login_required
@require_POST
def post_create(request: HttpRequest, slug: str) -> HttpResponse:
    """Publish from the compose form; chosen files are uploaded to the archive and attached in order."""
    circle, membership = _member_circle(request, slug)
    data = request.POST
    fields = {"body": data.get("body", ""), "title": data.get("title", ""), "tags": data.get("tags", ""),
              "visibility": data.get("visibility") or PostVisibility.MEMBERS, "plan_id": data.get("plan_id") or None}
    uploads = request.FILES.getlist("files")
    back = reverse("feed", args=[circle.slug])
    stored: list = []
    try:
        rules.check_create_post(membership, circle)
        # Check the text first, so a typo doesn't leave uploaded files behind.
        actions.clean_post_input(circle, **fields, attachment_ids=[f"file{i}" for i in range(len(uploads))])
        stored = [archive_actions.do_upload_file(actor=request.user, circle=circle, upload=f) for f in uploads]
        post = actions.do_create_post(actor=request.user, circle=circle, **fields,
                                      attachment_ids=[f.public_id for f in stored])
    except QuanziError as exc:
        for f in stored:  # the post failed: its files go too
            archive_actions.do_delete_file(actor=request.user, circle_file=f)
        if isinstance(exc, InvalidInput):
            # Keep what was typed: the feed page shows it again with the error.
            request.session["feed_draft"] = {k: str(v or "") for k, v in fields.items()}
        return _error(request, exc, back)
    if post.moderation_state == "held":
        messages.info(request, _("Your post is awaiting review by a moderator."))
    else:
        messages.success(request, _("Published."))
    return redirect("feed", slug=circle.slug)


# --- one post -----------------------------------------------------------------------------


def _with_link_cards(items: list[dict]) -> list[dict]:
    """Attach each post's archived links (one query for the page) for the cards under it."""
    from quanzi.archive.snapshots import snapshots_for

    cards = snapshots_for("post", [item["id"] for item in items])
    for item in items:
        item["links"] = cards.get(item["id"], [])
    return items


@login_required
def post_detail(request: HttpRequest, slug: str, post_id: int) -> HttpResponse:
    """A post with its comments (``?cursor=`` the next comments; htmx: those only)."""
    circle, membership = _member_circle(request, slug)
    viewer = rules.Viewer(membership)
    try:
        post = selectors.access_post(circle, viewer, post_id)
        item = selectors.post_detail(circle, viewer, post_id)
        comments = selectors.comment_page(post, viewer, cursor=request.GET.get("cursor") or None, limit=50)
    except QuanziError as exc:
        return _error(request, exc, reverse("feed", args=[circle.slug]))
    context = _base_context(circle, membership, viewer)
    more = None
    if comments.next_cursor:
        more = reverse("feed_post", args=[circle.slug, post.id]) + f"?cursor={comments.next_cursor}"
    _with_link_cards([item])
    context.update(p=item, comments=comments, more_url=more, detail=True)
    if _is_htmx(request) and request.GET.get("cursor"):
        return render(request, "feed/_comments.html", context)
    return render(request, "feed/post_detail.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def post_edit(request: HttpRequest, slug: str, post_id: int) -> HttpResponse:
    circle, membership = _member_circle(request, slug)
    viewer = rules.Viewer(membership)
    try:
        item = selectors.post_detail(circle, viewer, post_id)
    except QuanziError as exc:
        return _error(request, exc, reverse("feed", args=[circle.slug]))
    if not item["can_edit"]:
        raise PermissionDenied(_("Only the author can edit this."))
    context = _base_context(circle, membership, viewer)
    form = {"body": item["body"], "title": item["title"], "tags": " ".join(item["tags"]),
            "visibility": item["visibility"], "plan_id": item["plan_id"] or ""}
    status = 200
    if request.method == "POST":
        data = request.POST
        form = {k: data.get(k, "") for k in ("body", "title", "tags", "visibility", "plan_id")}
        try:
            actions.do_edit_post(actor=request.user, circle=circle, post_id=item["id"], body=form["body"],
                                 title=form["title"], tags=form["tags"],
                                 visibility=form["visibility"] or PostVisibility.MEMBERS,
                                 plan_id=form["plan_id"] or None)
        except InvalidInput as exc:
            context["error"] = exc.message
            status = 400
        except QuanziError as exc:
            return _error(request, exc, reverse("feed_post", args=[circle.slug, item["id"]]))
        else:
            messages.success(request, _("Saved."))
            return redirect("feed_post", slug=circle.slug, post_id=item["id"])
    context.update(p=item, form=form, plans=_paid_plans(circle), visibilities=PostVisibility.choices)
    return render(request, "feed/post_edit.html", context, status=status)


@login_required
@require_POST
def post_delete(request: HttpRequest, slug: str, post_id: int) -> HttpResponse:
    circle, _m = _member_circle(request, slug)
    try:
        actions.do_delete_post(actor=request.user, circle=circle, post_id=post_id,
                               reason=request.POST.get("reason", ""))
    except QuanziError as exc:
        return _error(request, exc, reverse("feed", args=[circle.slug]))
    if _is_htmx(request):
        return HttpResponse(format_html('<p class="muted small" role="status">{}</p>', _("Post deleted.")))
    messages.success(request, _("Post deleted."))
    return redirect("feed", slug=circle.slug)


@login_required
@require_POST
def post_like(request: HttpRequest, slug: str, post_id: int) -> HttpResponse:
    circle, membership = _member_circle(request, slug)
    liked = request.POST.get("liked", "1") != "0"
    try:
        post = actions.do_like_post(actor=request.user, circle=circle, post_id=post_id, liked=liked)
    except QuanziError as exc:
        return _error(request, exc, reverse("feed", args=[circle.slug]))
    if _is_htmx(request):
        return render(request, "feed/_like.html", {"circle": circle, "p": {"id": post.id, "liked": liked,
                                                                           "like_count": post.like_count}})
    return redirect("feed_post", slug=circle.slug, post_id=post.id)


FLAGS = {"pin": ("pinned", True), "unpin": ("pinned", False), "feature": ("featured", True),
         "unfeature": ("featured", False)}


@login_required
@require_POST
def post_flag(request: HttpRequest, slug: str, post_id: int, flag: str) -> HttpResponse:
    """Admins pin/unpin and feature/unfeature a post."""
    circle, membership = _member_circle(request, slug)
    if flag not in FLAGS:
        raise Http404(_("No such action."))
    field, value = FLAGS[flag]
    try:
        if field == "pinned":
            actions.do_set_pinned(actor=request.user, circle=circle, post_id=post_id, pinned=value)
        else:
            actions.do_set_featured(actor=request.user, circle=circle, post_id=post_id, featured=value)
    except QuanziError as exc:
        return _error(request, exc, reverse("feed", args=[circle.slug]))
    if _is_htmx(request):
        viewer = rules.Viewer(membership)
        context = _base_context(circle, membership, viewer)
        context["p"] = _with_link_cards([selectors.post_detail(circle, viewer, post_id)])[0]
        return render(request, "feed/_post.html", context)
    return redirect("feed", slug=circle.slug)


# --- comments -----------------------------------------------------------------------------


@login_required
@require_POST
def comment_create(request: HttpRequest, slug: str, post_id: int) -> HttpResponse:
    circle, _m = _member_circle(request, slug)
    back = reverse("feed_post", args=[circle.slug, post_id])
    try:
        comment = actions.do_create_comment(actor=request.user, circle=circle, post_id=post_id,
                                            body=request.POST.get("body", ""),
                                            reply_to_id=request.POST.get("reply_to") or None)
    except QuanziError as exc:
        return _error(request, exc, back)
    if comment.moderation_state == "held":
        messages.info(request, _("Your comment is awaiting review by a moderator."))
    return redirect(f"{back}#comment-{comment.id}")


@login_required
@require_POST
def comment_delete(request: HttpRequest, slug: str, comment_id: int) -> HttpResponse:
    circle, _m = _member_circle(request, slug)
    try:
        comment = actions.do_delete_comment(actor=request.user, circle=circle, comment_id=comment_id,
                                            reason=request.POST.get("reason", ""))
    except QuanziError as exc:
        return _error(request, exc, reverse("feed", args=[circle.slug]))
    if _is_htmx(request):
        return HttpResponse(format_html('<li class="muted small" role="status">{}</li>', _("Comment deleted.")))
    return redirect("feed_post", slug=circle.slug, post_id=comment.post_id)


@login_required
@require_POST
def comment_like(request: HttpRequest, slug: str, comment_id: int) -> HttpResponse:
    circle, _m = _member_circle(request, slug)
    liked = request.POST.get("liked", "1") != "0"
    try:
        comment = actions.do_like_comment(actor=request.user, circle=circle, comment_id=comment_id, liked=liked)
    except QuanziError as exc:
        return _error(request, exc, reverse("feed", args=[circle.slug]))
    if _is_htmx(request):
        return render(request, "feed/_comment_like.html",
                      {"circle": circle, "c": {"id": comment.id, "liked": liked, "like_count": comment.like_count}})
    return redirect("feed_post", slug=circle.slug, post_id=comment.post_id)


def bench_hello(request: HttpRequest) -> HttpResponse:
    """The baseline of benchmarks/feed.py: the same server and middleware, no work. Routed only with QUANZI_BENCH=1."""
    return HttpResponse(b"hello", content_type="text/plain")
