"""Member actions on the members page: htmx partials, redirects, and visible errors."""

from __future__ import annotations

import pytest
from django.urls import reverse

from quanzi.circles.models import Membership
from quanzi.core.models import AuditEntry

from .conftest import htmx

pytestmark = pytest.mark.django_db


def action_url(circle, user, action):
    return reverse("member_action", args=[circle.slug, user.id, action])


def membership(circle, user):
    return Membership.objects.get(circle=circle, user=user)


def test_mute_by_htmx_returns_the_updated_row(client_as, circle, moderator, member):
    response = htmx(client_as(moderator), action_url(circle, member, "mute"), {"minutes": "30", "reason": "spam"})
    assert response.status_code == 200
    assert [t.name for t in response.templates][0] == "web/partials/member_row.html"
    body = response.content.decode()
    assert body.lstrip().startswith(f'<li class="member" id="member-{member.id}"')
    assert "Muted until" in body and "Member muted." in body
    assert "Unmute" in body  # the row now offers the opposite action
    m = membership(circle, member)
    assert m.is_muted() and m.mute_reason == "spam"
    assert AuditEntry.objects.filter(circle=circle, action="member.mute", target_user=member).exists()


def test_unmute_by_htmx(client_as, circle, moderator, member):
    client = client_as(moderator)
    htmx(client, action_url(circle, member, "mute"), {"minutes": "30"})
    response = htmx(client, action_url(circle, member, "unmute"))
    assert response.status_code == 200
    assert not membership(circle, member).is_muted()


def test_moderator_cannot_act_on_admin_and_sees_why(client_as, circle, moderator, admin):
    response = htmx(client_as(moderator), action_url(circle, admin, "mute"), {"minutes": "30"})
    assert response.status_code == 403
    body = response.content.decode()
    assert 'class="error" role="alert"' in body
    assert "equal to or higher than yours" in body
    assert not membership(circle, admin).is_muted()


def test_member_cannot_moderate(client_as, circle, member, moderator):
    response = htmx(client_as(member), action_url(circle, moderator, "kick"))
    assert response.status_code == 403
    assert membership(circle, moderator).status == "active"


def test_bad_minutes_are_a_400_with_a_message(client_as, circle, moderator, member):
    client = client_as(moderator)
    for minutes in ("abc", "0", "-5", ""):
        response = htmx(client, action_url(circle, member, "mute"), {"minutes": minutes})
        assert response.status_code == 400, minutes
        assert 'role="alert"' in response.content.decode()
    assert not membership(circle, member).is_muted()


def test_kick_without_htmx_redirects_with_a_message(client_as, circle, moderator, member):
    client = client_as(moderator)
    response = client.post(action_url(circle, member, "kick"), {"reason": "rude"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("members", args=[circle.slug])
    assert "Member removed from the circle." in response.content.decode()
    assert membership(circle, member).status == "kicked"


def test_error_without_htmx_is_a_flash_message(client_as, circle, moderator, admin):
    response = client_as(moderator).post(action_url(circle, admin, "ban"), follow=True)
    assert "equal to or higher than yours" in response.content.decode()
    assert membership(circle, admin).status == "active"


def test_ban_then_unban(client_as, circle, moderator, member):
    client = client_as(moderator)
    response = htmx(client, action_url(circle, member, "ban"), {"reason": "spam"})
    assert response.status_code == 200
    assert "Banned" in response.content.decode() and "Unban" in response.content.decode()
    assert membership(circle, member).status == "banned"
    banned_list = client.get(reverse("members", args=[circle.slug]), {"status": "banned"})
    assert [r["m"].user_id for r in banned_list.context["rows"]] == [member.id]
    response = htmx(client, action_url(circle, member, "unban"))
    assert response.status_code == 200
    assert membership(circle, member).status == "left"


def test_set_role_by_owner_and_limits_for_admin(client_as, circle, owner, admin, member):
    response = htmx(client_as(owner), action_url(circle, member, "role"), {"role": "moderator"})
    assert response.status_code == 200
    assert membership(circle, member).role == "moderator"
    # An admin can appoint moderators but not admins.
    response = htmx(client_as(admin), action_url(circle, member, "role"), {"role": "admin"})
    assert response.status_code == 403
    assert "below your own" in response.content.decode()
    assert membership(circle, member).role == "moderator"
    response = htmx(client_as(owner), action_url(circle, member, "role"), {"role": "emperor"})
    assert response.status_code == 400


def test_role_choices_offered_follow_the_rules(client_as, circle, owner, admin, member, onboarded):
    onboarded(admin, member)
    rows = {r["m"].user_id: r for r in client_as(admin).get(reverse("members", args=[circle.slug])).context["rows"]}
    assert [value for value, _label in rows[member.id]["role_choices"]] == ["moderator", "member"]
    assert rows[member.id]["can_moderate"]
    assert not rows[owner.id]["can_moderate"] and rows[owner.id]["role_choices"] == []
    assert not rows[admin.id]["can_moderate"]  # not oneself
    member_view = client_as(member).get(reverse("members", args=[circle.slug]))
    assert not any(r["can_moderate"] or r["role_choices"] for r in member_view.context["rows"])
    assert "Moderate" not in member_view.content.decode()


def test_unknown_action_and_member_are_404(client_as, circle, owner, member, outsider):
    client = client_as(owner)
    assert client.post(action_url(circle, member, "explode")).status_code == 404
    assert htmx(client, action_url(circle, outsider, "mute"), {"minutes": "5"}).status_code == 404


def test_get_is_not_allowed(client_as, circle, owner, member):
    assert client_as(owner).get(action_url(circle, member, "kick")).status_code == 405
