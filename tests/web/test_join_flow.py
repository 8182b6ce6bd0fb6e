"""Joining through an invite link, onboarding, and the open / approval join buttons."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from quanzi.circles import actions as circle_actions
from quanzi.circles.models import Invite, JoinRequest, Membership

pytestmark = pytest.mark.django_db


@pytest.fixture
def invite(circle, owner):
    circle_actions.do_update_circle(actor=owner, circle=circle, join_mode="invite", visibility="private")
    return circle_actions.do_create_invite(actor=owner, circle=circle, max_uses=2)


def join_url(invite):
    return reverse("join", args=[invite.code])


def test_preview_for_anonymous_offers_signup_and_login_with_next(client, invite):
    response = client.get(join_url(invite))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Morning Runners" in body
    assert f'{reverse("account_signup")}?next={join_url(invite)}' in body
    assert f'{reverse("account_login")}?next={join_url(invite)}' in body


def test_anonymous_post_goes_to_login(client, invite):
    response = client.post(join_url(invite))
    assert response.status_code == 302 and response["Location"].startswith(reverse("account_login"))


def test_signup_with_next_comes_back_to_the_invite(client, invite):
    response = client.post(
        reverse("account_signup") + f"?next={join_url(invite)}",
        {"username": "newbie", "email": "newbie@example.com", "password1": "Zebra-Quartz-93",
         "password2": "Zebra-Quartz-93", "next": join_url(invite)},
    )
    assert response.status_code == 302
    assert response["Location"] == join_url(invite)


def test_full_join_flow_with_follow(client_as, circle, invite, outsider):
    client = client_as(outsider)
    response = client.post(join_url(invite))
    assert response.status_code == 302 and response["Location"] == reverse("welcome", args=[circle.slug])
    membership = Membership.objects.get(circle=circle, user=outsider)
    assert membership.status == "active" and membership.invite_id == invite.id
    invite.refresh_from_db()
    assert invite.uses == 1

    welcome = client.get(reverse("welcome", args=[circle.slug]))
    assert welcome.status_code == 200
    assert "Welcome to Morning Runners, outsider!" in welcome.content.decode()
    assert "Be kind." in welcome.content.decode()
    # Until onboarding is done, the circle page sends the member back to it.
    assert client.get(reverse("circle", args=[circle.slug]))["Location"] == reverse("welcome", args=[circle.slug])

    response = client.post(reverse("welcome_done", args=[circle.slug]), {"follow": "1"})
    assert response["Location"] == reverse("room", args=[circle.slug, circle.main_group_id])
    membership.refresh_from_db()
    assert membership.follows_channel and membership.onboarding_done
    assert client.get(reverse("circle", args=[circle.slug])).status_code == 200


def test_skip_onboarding(client_as, circle, invite, outsider):
    client = client_as(outsider)
    client.post(join_url(invite))
    client.post(reverse("welcome_done", args=[circle.slug]), {"follow": "0"})
    membership = Membership.objects.get(circle=circle, user=outsider)
    assert membership.onboarding_done and not membership.follows_channel


def test_already_member_sees_open_link(client_as, circle, invite, owner):
    response = client_as(owner).get(join_url(invite))
    assert "already a member" in response.content.decode()


@pytest.mark.parametrize(
    ("spoil", "text"),
    [
        ({"revoked_at": timezone.now()}, "revoked"),
        ({"expires_at": timezone.now() - timedelta(hours=1)}, "expired"),
        ({"uses": 2}, "used up"),
    ],
)
def test_unusable_invites_explain_why(client_as, circle, invite, outsider, spoil, text):
    Invite.objects.filter(id=invite.id).update(**spoil)
    client = client_as(outsider)
    page = client.get(join_url(invite))
    assert page.status_code == 200
    assert f"This invite link has {text}" in page.content.decode() or text in page.content.decode()
    response = client.post(join_url(invite))
    assert response.status_code == 403
    assert text in response.content.decode()
    assert not Membership.objects.filter(circle=circle, user=outsider).exists()


def test_banned_user_cannot_join_by_invite(client_as, circle, owner, member, invite):
    circle_actions.do_ban_member(actor=owner, circle=circle, user_id=member.id)
    client = client_as(member)
    assert "You are banned from this circle." in client.get(join_url(invite)).content.decode()
    response = client.post(join_url(invite))
    assert response.status_code == 403
    assert Membership.objects.get(circle=circle, user=member).status == "banned"


def test_missing_invite_is_404(client_as, outsider):
    response = client_as(outsider).get(reverse("join", args=["nope"]))
    assert response.status_code == 404
    assert "does not exist" in response.content.decode()


def test_invite_into_approval_circle_files_a_request(client_as, circle, owner, outsider):
    circle_actions.do_update_circle(actor=owner, circle=circle, join_mode="approval")
    invite = circle_actions.do_create_invite(actor=owner, circle=circle)
    client = client_as(outsider)
    response = client.post(join_url(invite), {"message": "hi"}, follow=True)
    assert "waiting for approval" in response.content.decode()
    assert JoinRequest.objects.get(circle=circle, user=outsider).status == "pending"
    assert not Membership.objects.filter(circle=circle, user=outsider).exists()


def test_open_circle_join_button(client_as, circle, outsider):
    response = client_as(outsider).post(reverse("circle_join", args=[circle.slug]))
    assert response["Location"] == reverse("welcome", args=[circle.slug])
    assert Membership.objects.get(circle=circle, user=outsider).status == "active"


def test_invite_only_circle_refuses_the_join_button(client_as, circle, owner, outsider):
    circle_actions.do_update_circle(actor=owner, circle=circle, join_mode="invite")
    response = client_as(outsider).post(reverse("circle_join", args=[circle.slug]), follow=True)
    assert "only be joined through an invite link" in response.content.decode()
    assert not Membership.objects.filter(circle=circle, user=outsider).exists()


def test_leave_circle_and_owner_cannot(client_as, circle, owner, member):
    response = client_as(member).post(reverse("circle_leave", args=[circle.slug]))
    assert response["Location"] == reverse("home")
    assert Membership.objects.get(circle=circle, user=member).status == "left"
    response = client_as(owner).post(reverse("circle_leave", args=[circle.slug]), follow=True)
    assert "transfer ownership" in response.content.decode()


def test_group_join_and_leave(client_as, circle, owner, member, onboarded):
    from quanzi.chat import actions as chat_actions
    from quanzi.chat.models import GroupMember

    onboarded(member)
    side = chat_actions.do_create_group(actor=owner, circle=circle, name="Side")
    client = client_as(member)
    response = client.post(reverse("group_join", args=[circle.slug, side.id]))
    assert response["Location"] == reverse("room", args=[circle.slug, side.id])
    assert GroupMember.objects.filter(group=side, user=member).exists()
    client.post(reverse("group_leave", args=[circle.slug, side.id]))
    assert not GroupMember.objects.filter(group=side, user=member).exists()
    response = client.post(reverse("group_leave", args=[circle.slug, circle.main_group_id]), follow=True)
    assert "cannot leave the main group" in response.content.decode()


def test_channel_follow_toggle(client_as, circle, member, onboarded):
    onboarded(member)
    client = client_as(member)
    client.post(reverse("channel_follow", args=[circle.slug]), {"follow": "1"})
    assert Membership.objects.get(circle=circle, user=member).follows_channel
    client.post(reverse("channel_follow", args=[circle.slug]), {"follow": "0"})
    assert not Membership.objects.get(circle=circle, user=member).follows_channel
