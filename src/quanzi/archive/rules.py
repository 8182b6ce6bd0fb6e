"""Who may upload, see, delete and export files: the one permission module of the archive app.

===========================  ======  =====  =====  =====
action                       member  mod    admin  owner
===========================  ======  =====  =====  =====
upload (not muted/expired)   yes     yes    yes    yes
see / download circle files  yes     yes    yes    yes
delete own file              yes     yes    yes    yes
delete anyone's file         no      no     yes    yes
export the whole circle      no      no     no     yes
===========================  ======  =====  =====  =====

Seeing a file also needs seeing what it is attached to (``quanzi.archive.access``); former,
kicked and banned members see nothing (404).
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone
from django.utils.translation import gettext as _

from quanzi.circles.models import Membership, Role
from quanzi.circles.rules import has_role, is_active, paid_membership_expired
from quanzi.core.errors import Forbidden

from .models import CircleFile


def _require_member(actor: Membership | None) -> None:
    if not is_active(actor):
        raise Forbidden(_("You are not a member of this circle."), code="not_member")


def check_upload(actor: Membership | None, *, now: datetime | None = None) -> None:
    now = now or timezone.now()
    _require_member(actor)
    if paid_membership_expired(actor, now):
        raise Forbidden(_("Your paid membership has expired; renew it to upload again."), code="membership_expired")
    if actor.is_muted(now):
        raise Forbidden(_("You are muted and cannot upload files right now."), code="muted")


def check_delete_file(actor: Membership | None, circle_file: CircleFile) -> None:
    _require_member(actor)
    if circle_file.uploader_id == actor.user_id or has_role(actor, Role.ADMIN):
        return
    raise Forbidden(_("Only the uploader or an admin can delete this file."), code="not_uploader")


def can_delete_file(actor: Membership | None, circle_file: CircleFile) -> bool:
    try:
        check_delete_file(actor, circle_file)
    except Forbidden:
        return False
    return True


def check_export(actor: Membership | None) -> None:
    _require_member(actor)
    if actor.role != Role.OWNER:
        raise Forbidden(_("Only the owner can export the circle."), code="owner_only")


def can_export(actor: Membership | None) -> bool:
    return is_active(actor) and actor.role == Role.OWNER
