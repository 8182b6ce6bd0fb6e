"""Each page renders for the roles that may see it, and answers 403/404 for the rest."""

from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse

from quanzi.chat import actions as chat_actions
from quanzi.circles import actions as circle_actions
from quanzi.circles.models import Visibility

pytestmark = pytest.mark.django_db

ROLES = ["member", "moderator", "admin", "owner"]


@pytest.fixture
def everyone(request, owner, admin, moderator, member, onboarded):
    onboarded(admin, moderator, member)
    return {"owner": owner, "admin": admin, "moderator": moderator, "member": member}


def test_home_for_anonymous_lists_public_circles(client, circle):
    response = client.get(reverse("home"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Morning Runners" in body
    assert reverse("account_signup") in body


def test_home_shows_my_circles_with_unread_counts(client_as, circle, owner, member):
    chat_actions.do_send_message(sender=owner, group=circle.main_group, body="one")
    chat_actions.do_send_message(sender=owner, group=circle.main_group, body="two")
    response = client_as(member).get(reverse("home"))
    assert response.status_code == 200
    mine = response.context["mine"]
    assert [item["circle"].slug for item in mine] == ["runners"]
    # The owner's two posts are unread for the member (the welcome system message too).
    assert mine[0]["unread"] >= 2
    assert response.context["discover"].count() == 0


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("page", ["circle", "members"])
def test_member_pages_render_for_every_role(client_as, circle, everyone, role, page):
    response = client_as(everyone[role]).get(reverse(page, args=[circle.slug]))
    assert response.status_code == 200
    assert "Morning Runners" in response.content.decode()


@pytest.mark.parametrize("role", ROLES)
def test_chat_room_renders_history_and_config(client_as, circle, everyone, role):
    chat_actions.do_send_message(sender=everyone["owner"], group=circle.main_group, body="hello **world**")
    response = client_as(everyone[role]).get(reverse("room", args=[circle.slug, circle.main_group_id]))
    assert response.status_code == 200
    body = response.content.decode()
    initial = json.loads(re.search(r'<script id="chat-initial" type="application/json">(.*?)</script>', body).group(1))
    assert initial[-1]["html"] == "<p>hello <strong>world</strong></p>"
    assert any(m["kind"] == "system" for m in initial)
    config = json.loads(re.search(r'<script id="chat-config" type="application/json">(.*?)</script>', body).group(1))
    assert config["groupId"] == circle.main_group_id
    assert config["me"]["role"] == role
    assert config["canModerate"] is (role != "member")


@pytest.mark.parametrize(
    ("page", "allowed"),
    [
        ("circle_settings", {"admin", "owner"}),
        ("audit", {"admin", "owner"}),
        ("invites", {"admin", "owner"}),
        ("join_requests", {"moderator", "admin", "owner"}),
    ],
)
@pytest.mark.parametrize("role", ROLES)
def test_management_pages_need_the_role(client_as, circle, everyone, page, allowed, role):
    response = client_as(everyone[role]).get(reverse(page, args=[circle.slug]))
    assert response.status_code == (200 if role in allowed else 403)


def test_management_tabs_follow_the_role(client_as, circle, everyone):
    member_page = client_as(everyone["member"]).get(reverse("circle", args=[circle.slug])).content.decode()
    admin_page = client_as(everyone["admin"]).get(reverse("circle", args=[circle.slug])).content.decode()
    assert reverse("circle_settings", args=[circle.slug]) not in member_page
    assert reverse("circle_settings", args=[circle.slug]) in admin_page


@pytest.mark.parametrize(
    "url_name", ["circle", "members", "circle_settings", "audit", "invites", "join_requests", "welcome"]
)
def test_private_circle_is_a_404_for_outsiders(client_as, circle, owner, outsider, url_name):
    circle_actions.do_update_circle(actor=owner, circle=circle, visibility=Visibility.PRIVATE)
    response = client_as(outsider).get(reverse(url_name, args=[circle.slug]))
    assert response.status_code == 404
    # Exactly like a circle that does not exist.
    assert client_as(outsider).get(reverse(url_name, args=["no-such-circle"])).status_code == 404


def test_public_circle_outsider_sees_join_button_but_not_members(client_as, circle, outsider):
    client = client_as(outsider)
    page = client.get(reverse("circle", args=[circle.slug]))
    assert page.status_code == 200
    assert reverse("circle_join", args=[circle.slug]) in page.content.decode()
    assert client.get(reverse("members", args=[circle.slug])).status_code == 404
    assert client.get(reverse("room", args=[circle.slug, circle.main_group_id])).status_code == 404


def test_room_of_another_circle_or_unjoined_group_is_404(client_as, circle, owner, member, onboarded, make_user):
    onboarded(member)
    other = circle_actions.do_create_circle(owner=make_user("other"), name="Other", slug="other")
    client = client_as(member)
    assert client.get(reverse("room", args=[circle.slug, other.main_group_id])).status_code == 404
    assert client.get(reverse("room", args=["other", circle.main_group_id])).status_code == 404
    side = chat_actions.do_create_group(actor=owner, circle=circle, name="Side")
    assert client.get(reverse("room", args=[circle.slug, side.id])).status_code == 404


def test_anonymous_is_sent_to_login(client, circle):
    for name in ("circle_settings", "audit", "invites", "members"):
        response = client.get(reverse(name, args=[circle.slug]))
        assert response.status_code in (302, 404)
    response = client.get(reverse("circle_settings", args=[circle.slug]))
    assert response.status_code == 302 and reverse("account_login") in response["Location"]
    for name in ("notices", "profile", "tokens", "circle_create"):
        response = client.get(reverse(name))
        assert response.status_code == 302 and reverse("account_login") in response["Location"]


def test_circle_page_sends_new_members_to_onboarding(client_as, circle, member):
    response = client_as(member).get(reverse("circle", args=[circle.slug]))
    assert response.status_code == 302
    assert response["Location"] == reverse("welcome", args=[circle.slug])


def test_settings_page_shows_channel_follow_rate(client_as, circle, owner, member, onboarded):
    onboarded(member)
    response = client_as(owner).get(reverse("circle_settings", args=[circle.slug]))
    follow = response.context["follow"]
    # The owner follows (created with the channel); the member skipped.
    assert (follow.followers, follow.active_members, follow.percent) == (1, 2, 50)
    assert 'id="follow-rate">50%' in response.content.decode()


def test_audit_log_filters(client_as, circle, owner, member, onboarded):
    circle_actions.do_mute_member(actor=owner, circle=circle, user_id=member.id, minutes=5, reason="spam")
    client = client_as(owner)
    url = reverse("audit", args=[circle.slug])
    everything = client.get(url).context["page"].object_list
    assert {e.action for e in everything} >= {"circle.create", "member.mute"}
    muted = client.get(url, {"action": "member.mute"}).context["page"].object_list
    assert [e.reason for e in muted] == ["spam"]
    by_target = client.get(url, {"target": "member"}).context["page"].object_list
    assert {e.action for e in by_target} == {"member.mute"}
    by_actor = client.get(url, {"actor": "nobody"}).context["page"].object_list
    assert list(by_actor) == []


def test_notices_page_and_mark_read(client_as, circle, member):
    client = client_as(member)
    response = client.get(reverse("notices"))
    assert response.status_code == 200
    notices = list(response.context["page"].object_list)
    assert notices and notices[0].kind == "welcome" and notices[0].read_at is None
    assert 'id="notice-badge">1<' in response.content.decode()
    partial = client.post(reverse("notices_read"), {"notice_id": notices[0].id}, HTTP_HX_REQUEST="true")
    assert partial.status_code == 200
    assert partial.content.decode().lstrip().startswith("<li")
    notices[0].refresh_from_db()
    assert notices[0].read_at is not None
    assert client.post(reverse("notices_read"), {"notice_id": "x"}).status_code == 302


PAGES_FOR_CSP = ["home", "circle", "members", "circle_settings", "invites", "audit", "room", "notices", "profile"]


def test_pages_have_no_inline_script_or_style(client_as, circle, owner):
    """CSP is script-src/style-src 'self': inline code would be blocked in the browser."""
    client = client_as(owner)
    for name in PAGES_FOR_CSP:
        if name in ("home", "notices", "profile"):
            url = reverse(name)
        elif name == "room":
            url = reverse(name, args=[circle.slug, circle.main_group_id])
        else:
            url = reverse(name, args=[circle.slug])
        response = client.get(url)
        assert response.status_code == 200, name
        body = response.content.decode()
        assert "Content-Security-Policy" in response.headers
        for script in re.findall(r"<script\b[^>]*>", body):
            assert "src=" in script or 'type="application/json"' in script, (name, script)
        assert not re.search(r"\sstyle=", body), name
        assert not re.search(r"\son[a-z]+=", body), name
