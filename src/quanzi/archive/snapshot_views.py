"""The archived copy of a linked page (/c/<slug>/links/<id>/) and its stored images.

Both check, on every request, that the viewer is an active member who may see some content that
cited the link (the same rule as search); anyone else gets the 404 of a missing snapshot.
The page is served from our copy only: nothing is fetched while answering.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from quanzi.circles import rules as circle_rules
from quanzi.circles.access import access_circle
from quanzi.circles.models import Role
from quanzi.core.errors import NotFound

from .models import SnapshotImage, SnapshotStatus
from .snapshots import access_snapshot
from .storage import open_blob


def _snapshot(request: HttpRequest, slug: str, snapshot_id: int):
    try:
        circle, membership = access_circle(slug, request.user, require_member=True)
    except NotFound:
        raise Http404(_("No such circle."))
    try:
        snapshot = access_snapshot(request.user, membership, circle, snapshot_id)
    except NotFound as exc:
        raise Http404(exc.message)
    return circle, membership, snapshot


@login_required
@require_GET
def snapshot_page(request: HttpRequest, slug: str, snapshot_id: int) -> HttpResponse:
    circle, membership, snapshot = _snapshot(request, slug, snapshot_id)
    context = {
        "circle": circle,
        "membership": membership,
        "nav": {
            "is_member": True,
            "can_manage": circle_rules.has_role(membership, Role.ADMIN),
            "can_moderate": circle_rules.has_role(membership, Role.MODERATOR),
        },
        "tab": "",
        "snapshot": snapshot,
        "images": list(snapshot.images.all()) if snapshot.status == SnapshotStatus.OK else [],
        "paragraphs": [p for p in snapshot.text.split("\n") if p.strip()],
    }
    return render(request, "archive/snapshot.html", context)


@login_required
@require_GET
def snapshot_image(request: HttpRequest, slug: str, snapshot_id: int, position: int) -> FileResponse:
    _circle, _membership, snapshot = _snapshot(request, slug, snapshot_id)
    image = SnapshotImage.objects.select_related("blob").filter(snapshot=snapshot, position=position).first()
    if image is None:
        raise Http404(_("No such image."))
    response = FileResponse(open_blob(image.blob), content_type=image.blob.content_type)
    response["Content-Length"] = str(image.blob.size)
    response["Cache-Control"] = "private, max-age=86400"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["X-Content-Type-Options"] = "nosniff"
    return response
