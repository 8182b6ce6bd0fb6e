"""Fetch a challenge (or check-in) and check the actor may see it: the same 404 for missing and forbidden."""

from __future__ import annotations

from django.utils.translation import gettext as _

from quanzi.circles import rules as circle_rules
from quanzi.circles.access import get_membership
from quanzi.circles.models import Circle, Membership
from quanzi.core.errors import NotFound
from quanzi.core.ids import as_db_id

from .models import Challenge


def access_challenge(challenge_id: int | str, user, *, circle: Circle | None = None) -> tuple[Challenge, Membership]:
    """The challenge and the user's active membership of its circle (members only see challenges)."""
    cid = as_db_id(challenge_id)
    qs = Challenge.objects.select_related("circle")
    if circle is not None:
        qs = qs.filter(circle=circle)
    challenge = qs.filter(id=cid).first() if cid else None
    membership = get_membership(challenge.circle, user) if challenge is not None else None
    if challenge is None or not circle_rules.is_active(membership):
        raise NotFound(_("No such challenge."), code="challenge_not_found")
    return challenge, membership
