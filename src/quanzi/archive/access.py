"""May this person see this file now? Checked on every download, thumbnail and listing.

A circle file is visible to the active members of its circle (former, kicked and banned
members get the same 404 as for a missing file). A file attached to something (a feed post,
a comment, a check-in, a direct message …) is visible only to those who can see that thing:
the app owning it registers a function here::

    from quanzi.archive.access import register_visibility
    register_visibility("post", lambda user, ids: {pid for pid in ids if can_view_post(user, pid)})

The function gets the user and a set of ids and returns the visible subset. A kind that no
app registered is visible to nobody (fail closed), so a forgotten registration hides files
instead of leaking them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable

from django.utils.translation import gettext as _

from quanzi.circles.models import Membership, MembershipStatus
from quanzi.core.errors import NotFound

from .models import CircleFile

VisibilityCheck = Callable[[object, set[int]], set[int]]
_registry: dict[str, VisibilityCheck] = {}


def register_visibility(kind: str, check: VisibilityCheck) -> None:
    """Say who sees files attached to ``kind`` (call from your AppConfig.ready or at import)."""
    _registry[kind] = check


def registered_kinds() -> set[str]:
    return set(_registry)


def visible_attached(user, kind: str, ids: set[int]) -> set[int]:
    check = _registry.get(kind)
    if check is None or not ids:
        return set()
    return set(check(user, set(ids))) & ids


def visible_files(user, files: Iterable[CircleFile]) -> list[CircleFile]:
    """The files among these whose attachment (if any) the user can see, in order.

    Circle membership is the caller's check (listings only run for active members).
    """
    files = list(files)
    wanted: dict[str, set[int]] = defaultdict(set)
    for f in files:
        if f.attached_kind and f.attached_id is not None:
            wanted[f.attached_kind].add(f.attached_id)
    allowed = {kind: visible_attached(user, kind, ids) for kind, ids in wanted.items()}
    return [
        f for f in files
        if not f.attached_kind or (f.attached_id is not None and f.attached_id in allowed.get(f.attached_kind, ()))
    ]


def _missing() -> NotFound:
    return NotFound(_("No such file."), code="file_not_found")


def access_file(public_id: str, user, *, circle_id: int | None = None) -> tuple[CircleFile, Membership]:
    """The live file with this public id and the user's active membership, or NotFound.

    Missing, deleted, other circle (when ``circle_id`` is given), not a member now, or an
    attachment the user can't see: all answer the same, so ids can't be probed.
    """
    if not isinstance(public_id, str) or not public_id or len(public_id) > 32:
        raise _missing()
    if user is None or not user.is_authenticated:
        raise _missing()
    circle_file = (
        CircleFile.objects.select_related("blob", "thumbnail", "circle", "uploader")
        .filter(public_id=public_id, deleted_at__isnull=True)
        .first()
    )
    if circle_file is None or (circle_id is not None and circle_file.circle_id != circle_id):
        raise _missing()
    membership = Membership.objects.filter(
        circle_id=circle_file.circle_id, user=user, status=MembershipStatus.ACTIVE
    ).first()
    if membership is None:
        raise _missing()
    if circle_file.attached_kind and not visible_files(user, [circle_file]):
        raise _missing()
    return circle_file, membership
