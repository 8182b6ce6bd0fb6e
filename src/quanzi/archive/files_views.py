"""Web pages of circle files and exports: thin views over access, actions and selectors."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from quanzi.circles import rules as circle_rules
from quanzi.circles.access import access_circle
from quanzi.circles.models import Role
from quanzi.core.errors import Forbidden, NotFound, QuanziError
from quanzi.core.ids import as_db_id

from . import actions, rules, selectors
from .access import access_file
from .files_serving import export_zip_response, serve_blob
from .files_types import ACCEPT
from .models import CircleExport


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _member_circle(request: HttpRequest, slug: str):
    try:
        return access_circle(slug, request.user, require_member=True)
    except NotFound:
        raise Http404(_("No such circle."))


def _nav(membership) -> dict[str, bool]:
    return {
        "is_member": circle_rules.is_active(membership),
        "can_manage": circle_rules.has_role(membership, Role.ADMIN),
        "can_moderate": circle_rules.has_role(membership, Role.MODERATOR),
    }


def _file_context(request: HttpRequest, circle, membership) -> dict:
    query = request.GET.get("q", "")[:100]
    before = as_db_id(request.GET.get("before")) if request.GET.get("before") else None
    files, next_before = selectors.list_files(request.user, circle, query=query, before_id=before, limit=50)
    for f in files:
        f.can_delete = rules.can_delete_file(membership, f)
    return {"circle": circle, "membership": membership, "files": files, "next_before": next_before, "q": query}


@login_required
@require_safe
def files_page(request: HttpRequest, slug: str) -> HttpResponse:
    circle, membership = _member_circle(request, slug)
    context = _file_context(request, circle, membership)
    context.update({"nav": _nav(membership), "tab": "files", "accept": ACCEPT,
                    "limit_mb": actions.upload_limit_bytes(circle) // (1024 * 1024)})
    if _is_htmx(request) and request.GET.get("partial") == "list":
        return render(request, "archive/_file_list.html", context)
    return render(request, "archive/files.html", context)


@login_required
@require_POST
def file_upload(request: HttpRequest, slug: str) -> HttpResponse:
    circle, membership = _member_circle(request, slug)
    error = None
    try:
        actions.do_upload_file(actor=request.user, circle=circle, upload=request.FILES.get("file"))
    except QuanziError as exc:
        error = exc
    if _is_htmx(request):
        context = _file_context(request, circle, membership)
        context["upload_error"] = error.message if error else None
        return render(request, "archive/_file_list.html", context, status=error.status if error else 200)
    if error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("File uploaded."))
    return redirect("archive_files", slug=circle.slug)


@login_required
@require_POST
def file_delete(request: HttpRequest, slug: str, public_id: str) -> HttpResponse:
    circle, membership = _member_circle(request, slug)
    try:
        access_file(public_id, request.user, circle_id=circle.id)
        actions.do_delete_file(actor=request.user, circle_file=public_id)
    except NotFound:
        raise Http404(_("No such file."))
    except Forbidden as exc:
        raise PermissionDenied(exc.message)
    if _is_htmx(request):
        return render(request, "archive/_file_list.html", _file_context(request, circle, membership))
    messages.success(request, _("File deleted."))
    return redirect("archive_files", slug=circle.slug)


@require_safe
def file_download(request: HttpRequest, public_id: str) -> HttpResponse:
    """The file itself, after checking (every time) that the viewer may see it now."""
    try:
        circle_file, _membership = access_file(public_id, request.user)
    except NotFound:
        raise Http404(_("No such file."))
    return serve_blob(request, circle_file.blob, filename=circle_file.name)


@require_safe
def file_thumbnail(request: HttpRequest, public_id: str) -> HttpResponse:
    try:
        circle_file, _membership = access_file(public_id, request.user)
    except NotFound:
        raise Http404(_("No such file."))
    if circle_file.thumbnail is None:
        raise Http404(_("No such file."))
    stem = circle_file.name.rsplit(".", 1)[0]
    ext = "png" if circle_file.thumbnail.content_type == "image/png" else "jpg"
    return serve_blob(request, circle_file.thumbnail, filename=f"{stem}-thumb.{ext}")


# --- exports ------------------------------------------------------------------------------------


def _owner_circle(request: HttpRequest, slug: str):
    circle, membership = _member_circle(request, slug)
    try:
        rules.check_export(membership)
    except Forbidden as exc:
        raise PermissionDenied(exc.message)
    return circle, membership


def _access_export(circle, public_id: str) -> CircleExport:
    export = selectors.export_of(circle, public_id)
    if export is None:
        raise Http404(_("No such export."))
    return export


@login_required
def export_page(request: HttpRequest, slug: str) -> HttpResponse:
    circle, membership = _owner_circle(request, slug)
    if request.method == "POST":
        try:
            actions.do_request_export(actor=request.user, circle=circle)
        except QuanziError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("The export has started."))
        return redirect("archive_export", slug=circle.slug)
    if request.method not in ("GET", "HEAD"):
        return HttpResponse(status=405)
    return render(request, "archive/export.html", {
        "circle": circle, "membership": membership, "nav": _nav(membership), "tab": "export",
        "exports": selectors.recent_exports(circle)})


@login_required
@require_safe
def export_status(request: HttpRequest, slug: str, public_id: str) -> HttpResponse:
    """The progress row of one export (polled by htmx every 2 s until it is done or failed)."""
    circle, _membership = _owner_circle(request, slug)
    export = _access_export(circle, public_id)
    return render(request, "archive/_export_row.html", {"circle": circle, "export": export})


@login_required
@require_safe
def export_download(request: HttpRequest, slug: str, public_id: str) -> HttpResponse:
    circle, _membership = _owner_circle(request, slug)
    response = export_zip_response(_access_export(circle, public_id), circle.slug)
    if response is None:
        raise Http404(_("No such export."))
    return response
