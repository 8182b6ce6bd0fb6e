"""The circle's search page (/c/<slug>/search/): a form, results swapped in by htmx."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from quanzi.circles import rules as circle_rules
from quanzi.circles.access import access_circle
from quanzi.circles.models import Role
from quanzi.core.errors import InvalidInput, NotFound

from . import selectors

KIND_LABELS = [
    ("", _("Everything")),
    ("message", _("Chat messages")),
    ("post", _("Posts")),
    ("comment", _("Comments")),
    ("file", _("Files")),
    ("snapshot", _("Archived links")),
]


def _cursor(raw: str | None) -> int | None:
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 18):
        raise InvalidInput(_("Invalid cursor."), code="invalid_cursor")
    return int(raw)


@login_required
@require_GET
def search_page(request: HttpRequest, slug: str) -> HttpResponse:
    try:
        circle, membership = access_circle(slug, request.user, require_member=True)
    except NotFound:
        raise Http404(_("No such circle."))
    query = request.GET.get("q")
    kind = request.GET.get("kind", "")
    context = {
        "circle": circle,
        "membership": membership,
        "nav": {
            "is_member": circle_rules.is_active(membership),
            "can_manage": circle_rules.has_role(membership, Role.ADMIN),
            "can_moderate": circle_rules.has_role(membership, Role.MODERATOR),
        },
        "tab": "search",
        "query": query or "",
        "kind": kind if kind in dict(KIND_LABELS) else "",
        "kind_labels": KIND_LABELS,
        "page": None,
        "error": "",
    }
    status = 200
    if query is not None:
        try:
            context["page"] = selectors.search(
                request.user, circle, query, kinds=kind or None, cursor=_cursor(request.GET.get("cursor")),
                membership=membership,
            )
        except InvalidInput as exc:
            context["error"] = exc.message
            status = 400
    partial = request.headers.get("HX-Request") == "true"
    template = "search/search.html"
    if partial:
        more = request.GET.get("more") == "1" and context["page"] is not None
        template = "search/_hits.html" if more else "search/_results.html"
    return render(request, template, context, status=status)
