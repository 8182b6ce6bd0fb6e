"""Forms create what they should, and bad input shows an error and writes nothing."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from quanzi.accounts.models import ApiToken
from quanzi.chat.models import Group
from quanzi.circles.models import Circle, Invite, JoinRequest, Membership
from quanzi.core.models import AuditEntry

from .conftest import htmx

pytestmark = pytest.mark.django_db

CIRCLE = {
    "name": "Tea Club",
    "slug": "",
    "description": "Oolong and more.",
    "rules_text": "Be nice.",
    "visibility": "public",
    "join_mode": "open",
    "timezone": "Asia/Shanghai",
    "language": "zh-hans",
    "with_channel": "on",
}


def test_create_circle(client_as, owner):
    response = client_as(owner).post(reverse("circle_create"), CIRCLE)
    circle = Circle.objects.get(name="Tea Club")
    assert response.status_code == 302 and response["Location"] == reverse("circle", args=[circle.slug])
    assert circle.slug == "tea-club" and circle.timezone == "Asia/Shanghai" and circle.language == "zh-hans"
    assert circle.channel_group_id is not None
    assert Membership.objects.get(circle=circle, user=owner).role == "owner"


def test_create_circle_without_channel(client_as, owner):
    data = {k: v for k, v in CIRCLE.items() if k != "with_channel"}
    client_as(owner).post(reverse("circle_create"), data)
    assert Circle.objects.get(name="Tea Club").channel_group_id is None


@pytest.mark.parametrize(
    ("change", "field", "text"),
    [
        ({"slug": "Bad Slug!"}, "slug", "lowercase letters"),
        ({"slug": "runners"}, "slug", "taken"),
        ({"slug": "admin"}, "slug", "lowercase letters"),
        ({"name": "x" * 81}, "name", "1 to 80"),
        ({"name": ""}, "name", "required"),
        ({"timezone": "Mars/Olympus"}, "timezone", "valid choice"),
        ({"join_mode": "whenever"}, "join_mode", "valid choice"),
    ],
)
def test_create_circle_errors(client_as, owner, circle, change, field, text):
    before = Circle.objects.count()
    response = client_as(owner).post(reverse("circle_create"), CIRCLE | change)
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert field in errors and text in str(errors[field])
    assert 'class="error"' in response.content.decode()
    assert Circle.objects.count() == before


def test_settings_update_and_bad_welcome_template(client_as, circle, owner):
    client = client_as(owner)
    url = reverse("circle_settings", args=[circle.slug])
    data = {
        "name": "Morning Runners",
        "description": "New text",
        "rules_text": "Be kind.",
        "visibility": "private",
        "join_mode": "approval",
        "timezone": "Europe/Berlin",
        "language": "en",
        "welcome_template": "Hi {name}, welcome to {circle}. {rules}",
    }
    response = client.post(url, data)
    assert response.status_code == 302
    circle.refresh_from_db()
    assert (circle.visibility, circle.join_mode, circle.timezone) == ("private", "approval", "Europe/Berlin")
    assert AuditEntry.objects.filter(circle=circle, action="circle.update").exists()

    response = client.post(url, data | {"welcome_template": "Hi {nickname}", "description": "Other"})
    assert response.status_code == 400
    assert "{name}, {circle} and {rules}" in str(response.context["form"].errors["welcome_template"])
    circle.refresh_from_db()
    assert circle.description == "New text"


def test_create_group_and_channel(client_as, owner, make_user):
    from quanzi.circles import actions as circle_actions

    circle = circle_actions.do_create_circle(owner=owner, name="Plain", slug="plain")
    client = client_as(owner)
    url = reverse("group_create", args=[circle.slug])
    assert client.post(url, {"name": "Trail talk", "topic": "hills"}).status_code == 302
    assert Group.objects.filter(circle=circle, name="Trail talk", kind="group").exists()
    response = client.post(url, {"name": ""}, follow=True)
    assert "This field is required." in response.content.decode()
    client.post(url, {"kind": "channel"})
    circle.refresh_from_db()
    assert circle.channel_group.name == "Announcements"
    response = client.post(url, {"kind": "channel"}, follow=True)
    assert "already has an announcement channel" in response.content.decode()


def test_group_moderation_settings(client_as, circle, moderator, member, onboarded):
    onboarded(moderator, member)
    url = reverse("group_settings", args=[circle.slug, circle.main_group_id])
    response = client_as(moderator).post(url, {"mute_all": "on", "slow_mode_seconds": "30"})
    assert response.status_code == 302
    group = Group.objects.get(id=circle.main_group_id)
    assert group.mute_all and group.slow_mode_seconds == 30
    response = client_as(member).post(url, {"slow_mode_seconds": "0"}, follow=True)
    assert "Moderator role or higher" in response.content.decode()
    response = client_as(moderator).post(url, {"slow_mode_seconds": "999999"}, follow=True)
    assert "between 0 and 86400" in response.content.decode()
    group.refresh_from_db()
    assert group.slow_mode_seconds == 30


def test_invites_create_list_and_revoke(client_as, circle, owner):
    client = client_as(owner)
    url = reverse("invites", args=[circle.slug])
    response = client.post(url, {"expires_in_hours": "24", "max_uses": "3", "note": "flyer"}, follow=True)
    invite = Invite.objects.get(circle=circle, note="flyer")
    assert invite.max_uses == 3 and invite.expires_at is not None
    link = "http://testserver" + reverse("join", args=[invite.code])
    assert link in response.content.decode()
    assert f'data-copy="#invite-link-{invite.id}"' in response.content.decode()

    response = htmx(client, reverse("invite_revoke", args=[circle.slug, invite.id]))
    assert response.status_code == 200
    assert "revoked" in response.content.decode()
    invite.refresh_from_db()
    assert invite.revoked_at is not None


@pytest.mark.parametrize(
    ("data", "field"),
    [({"max_uses": "0"}, "max_uses"), ({"expires_in_hours": "0"}, "expires_in_hours"), ({"max_uses": "x"}, "max_uses")],
)
def test_invite_errors(client_as, circle, owner, data, field):
    response = client_as(owner).post(reverse("invites", args=[circle.slug]), data)
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert not Invite.objects.filter(circle=circle).exists()


def test_invites_revoke_needs_admin(client_as, circle, owner, moderator):
    from quanzi.circles import actions as circle_actions

    invite = circle_actions.do_create_invite(actor=owner, circle=circle)
    response = client_as(moderator).post(reverse("invite_revoke", args=[circle.slug, invite.id]))
    assert response.status_code == 403
    assert client_as(owner).post(reverse("invite_revoke", args=[circle.slug, 999999])).status_code == 404


def test_join_requests_approve_by_htmx(client_as, circle, owner, moderator, outsider):
    from quanzi.circles import actions as circle_actions

    circle_actions.do_update_circle(actor=owner, circle=circle, join_mode="approval")
    client_as(outsider).post(reverse("circle_join", args=[circle.slug]), {"message": "let me in"})
    jr = JoinRequest.objects.get(circle=circle, user=outsider)
    assert jr.message == "let me in"
    client = client_as(moderator)
    page = client.get(reverse("join_requests", args=[circle.slug]))
    assert "let me in" in page.content.decode()
    response = htmx(client, reverse("join_request_decide", args=[circle.slug, jr.id]), {"decision": "approve"})
    assert response.status_code == 200
    assert "Approved" in response.content.decode()
    assert Membership.objects.get(circle=circle, user=outsider).status == "active"
    again = htmx(client, reverse("join_request_decide", args=[circle.slug, jr.id]), {"decision": "reject"})
    assert again.status_code == 409
    assert "already decided" in again.content.decode()


def _png(size=(40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


def test_profile_update_and_avatar(client_as, owner, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    client = client_as(owner)
    data = {"display_name": "Olivia", "bio": "Runs.", "language": "zh-hans", "timezone": "Asia/Shanghai"}
    avatar = SimpleUploadedFile("me.png", _png(), content_type="image/png")
    response = client.post(reverse("profile"), data | {"avatar": avatar})
    assert response.status_code == 302
    owner.refresh_from_db()
    assert (owner.display_name, owner.language, owner.timezone) == ("Olivia", "zh-hans", "Asia/Shanghai")
    assert owner.avatar.name.startswith("avatars/") and owner.avatar.name.endswith(".png")
    assert "me" not in owner.avatar.name.split("/")[-1]
    with Image.open(owner.avatar.path) as stored:
        assert stored.format == "PNG" and stored.size == (40, 30)
    response = client.post(reverse("profile"), data | {"remove_avatar": "on"})
    owner.refresh_from_db()
    assert not owner.avatar


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"timezone": "Nowhere/City"}, "timezone"),
        ({"display_name": "x" * 65}, "display_name"),
        ({"bio": "x" * 1001}, "bio"),
        ({"avatar": SimpleUploadedFile("evil.png", b"<svg onload=alert(1)>", content_type="image/png")}, "avatar"),
    ],
)
def test_profile_errors(client_as, owner, settings, tmp_path, change, field):
    settings.MEDIA_ROOT = tmp_path
    data = {"display_name": "Olivia", "bio": "", "language": "en", "timezone": "UTC"} | change
    response = client_as(owner).post(reverse("profile"), data)
    assert response.status_code == 400
    assert field in response.context["form"].errors
    owner.refresh_from_db()
    assert owner.display_name == "" and not owner.avatar


def test_tokens_create_shows_raw_once_and_revoke(client_as, owner):
    client = client_as(owner)
    response = client.post(reverse("tokens"), {"name": "bot"})
    assert response.status_code == 200
    raw = response.context["raw_token"]
    assert raw.startswith("qz_") and raw in response.content.decode()
    token = ApiToken.objects.get(user=owner, name="bot")
    assert raw not in client.get(reverse("tokens")).content.decode()
    assert client.post(reverse("tokens"), {"name": ""}).status_code == 400
    assert client.post(reverse("token_revoke", args=[token.id])).status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_tokens_of_others_are_404(client_as, owner, member):
    from quanzi.accounts import actions as account_actions

    token, _raw = account_actions.do_create_token(user=owner, name="mine")
    assert client_as(member).post(reverse("token_revoke", args=[token.id])).status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None
