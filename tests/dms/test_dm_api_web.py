"""Direct messages over the REST API and the web pages: start/get/list, blocks, the circle
setting, bad input (clear 4xx, nothing stored) and that nothing of a DM leaks to others."""

from __future__ import annotations

import pytest
from api.helpers import ApiClient, assert_error
from django.test import Client
from django.urls import reverse

from quanzi.chat import actions as chat_actions
from quanzi.chat import dms
from quanzi.chat.models import Block, DmPair, Message
from quanzi.circles import actions as circle_actions

pytestmark = pytest.mark.django_db


def api(user) -> ApiClient:
    return ApiClient(user)


# --- API ----------------------------------------------------------------------------------------------------


def test_api_start_send_list_get(circle, member, member2):
    me = api(member)
    started = me.post(f"/api/circles/{circle.slug}/dms", {"user_id": member2.id})
    assert started.status_code == 200, started.data
    dm = started.data
    assert dm["peer"]["id"] == member2.id and dm["can_send"] is True and dm["cannot_send"] is None
    assert dm["last_message"] is None
    sent = me.post(f"/api/groups/{dm['group_id']}/messages", {"body": "你好 **there**"})
    assert sent.status_code == 201
    other = api(member2)
    listed = other.get(f"/api/circles/{circle.slug}/dms")
    assert listed.status_code == 200
    assert listed.data["total"] == 1
    row = listed.data["items"][0]
    assert row["group_id"] == dm["group_id"] and row["unread"] == 1 and row["peer"]["id"] == member.id
    assert row["last_message"]["body"] == "你好 **there**"
    got = other.get(f"/api/circles/{circle.slug}/dms/{member.id}")
    assert got.status_code == 200 and got.data["group_id"] == dm["group_id"] and got.data["unread"] == 1
    history = other.get(f"/api/groups/{dm['group_id']}/messages")
    assert [m["body"] for m in history.data["items"]] == ["你好 **there**"]
    # Starting again returns the same conversation.
    assert other.post(f"/api/circles/{circle.slug}/dms", {"user_id": member.id}).data["group_id"] == dm["group_id"]


def test_api_refusals_store_nothing(circle, member, member2, outsider, set_policy):
    me = api(member)
    path = f"/api/circles/{circle.slug}/dms"
    assert_error(me.post(path, {"user_id": member.id}), 403, "dm_self")
    assert_error(me.post(path, {"user_id": outsider.id}), 403, "dm_not_member")
    bad = me.post(path, {"user_id": 0})
    assert 400 <= bad.status_code < 500 and bad.data["code"]
    bad = me.post(path, {"user_id": "abc"})
    assert 400 <= bad.status_code < 500 and bad.data["code"]
    bad = me.post(path, {})
    assert 400 <= bad.status_code < 500
    bad = me.post(path, raw="not json")
    assert 400 <= bad.status_code < 500
    assert_error(me.get(f"{path}/{member2.id}"), 404, "dm_not_found")
    set_policy("off")
    assert_error(me.post(path, {"user_id": member2.id}), 403, "dm_off")
    assert_error(api(outsider).post(path, {"user_id": member.id}), 404, "circle_not_found")
    assert DmPair.objects.count() == 0


def test_api_policy_off_keeps_history_readable(circle, member, member2, set_policy):
    group = dms.do_start_dm(actor=member, circle=circle, user_id=member2.id)
    chat_actions.do_send_message(sender=member, group=group, body="before")
    set_policy("off")
    me = api(member)
    got = me.get(f"/api/circles/{circle.slug}/dms/{member2.id}")
    assert got.data["can_send"] is False and got.data["cannot_send"]["code"] == "dm_off"
    assert_error(me.post(f"/api/groups/{group.id}/messages", {"body": "after"}), 403, "dm_off")
    assert [m["body"] for m in me.get(f"/api/groups/{group.id}/messages").data["items"]] == ["before"]


def test_api_blocks(circle, member, member2):
    me = api(member)
    group = dms.do_start_dm(actor=member, circle=circle, user_id=member2.id)
    put = me.call("put", f"/api/me/blocks/{member2.id}")
    assert put.status_code == 200 and put.data["user"]["id"] == member2.id
    assert me.call("put", f"/api/me/blocks/{member2.id}").status_code == 200  # idempotent
    assert me.get("/api/me/blocks").data["total"] == 1
    assert_error(api(member2).post(f"/api/groups/{group.id}/messages", {"body": "hey"}), 403, "dm_blocked")
    assert api(member2).post(f"/api/groups/{group.id}/messages", {"body": "hey"}).data["message"] == (
        "You can't message this person.")
    assert_error(me.call("put", f"/api/me/blocks/{member.id}"), 400, "block_self")
    assert_error(me.call("put", "/api/me/blocks/999999999"), 404, "user_not_found")
    gone = me.delete(f"/api/me/blocks/{member2.id}")
    assert gone.status_code == 200 and gone.data == {"count": 1}
    assert me.delete(f"/api/me/blocks/{member2.id}").data == {"count": 0}
    assert me.get("/api/me/blocks").data == {"items": [], "total": 0}
    assert Block.objects.count() == 0


def test_api_dm_groups_do_not_leak(circle, owner, moderator, member, member2):
    group = dms.do_start_dm(actor=member, circle=circle, user_id=member2.id)
    message = chat_actions.do_send_message(sender=member, group=group, body="private")
    for other in (owner, moderator):
        client = api(other)
        assert group.id not in [g["id"] for g in client.get(f"/api/circles/{circle.slug}/groups").data["items"]]
        assert_error(client.get(f"/api/groups/{group.id}"), 404, "group_not_found")
        assert_error(client.get(f"/api/groups/{group.id}/messages"), 404, "group_not_found")
        assert_error(client.post(f"/api/groups/{group.id}/join"), 404, "group_not_found")
        assert_error(client.patch(f"/api/groups/{group.id}", {"mute_all": True}), 404, "group_not_found")
        assert_error(client.delete(f"/api/messages/{message.id}"), 404, "message_not_found")
        assert group.id not in [g["group_id"] for g in client.get("/api/unread").data["groups"]]
        assert client.get(f"/api/circles/{circle.slug}/dms").data["total"] == 0
        assert_error(client.get(f"/api/circles/{circle.slug}/dms/{member.id}"), 404, "dm_not_found")
    assert group.id not in [g["id"] for g in api(member).get(f"/api/circles/{circle.slug}/groups").data["items"]]
    assert group.id in [g["group_id"] for g in api(member2).get("/api/unread").data["groups"]]
    assert Message.objects.get(id=message.id).body == "private"


def test_api_circle_patch_dm_policy(circle, owner, member):
    response = api(owner).patch(f"/api/circles/{circle.slug}", {"dm_policy": "admins"})
    assert response.status_code == 200 and response.data["dm_policy"] == "admins"
    assert_error(api(owner).patch(f"/api/circles/{circle.slug}", {"dm_policy": "nobody"}), 400,
                 "invalid_dm_policy")
    assert_error(api(member).patch(f"/api/circles/{circle.slug}", {"dm_policy": "off"}), 403, "insufficient_role")
    circle.refresh_from_db()
    assert circle.dm_policy == "admins"


# --- web ----------------------------------------------------------------------------------------------------


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _onboard(circle, *users):
    for user in users:
        circle_actions.do_finish_onboarding(user=user, circle=circle)


def test_web_message_button_start_room_and_list(circle, member, member2, moderator, set_policy):
    _onboard(circle, member, member2, moderator)
    web = _client(member)
    members_page = web.get(reverse("members", args=[circle.slug])).content.decode()
    start_url = reverse("chat_dm_start", args=[circle.slug, member2.id])
    assert start_url in members_page
    assert reverse("chat_dm_start", args=[circle.slug, member.id]) not in members_page  # not on your own row
    response = web.post(start_url)
    group = DmPair.objects.get().group
    assert response.status_code == 302 and response["Location"] == reverse("room", args=[circle.slug, group.id])
    room = web.get(response["Location"]).content.decode()
    assert member2.name in room and "Message " + member2.name in room
    assert reverse("chat_block", args=[member2.id]) in room
    assert reverse("group_settings", args=[circle.slug, group.id]) not in room
    chat_actions.do_send_message(sender=member2, group=group, body="ping from two")
    listing = web.get(reverse("chat_dms", args=[circle.slug])).content.decode()
    assert "ping from two" in listing and member2.name in listing
    assert 'class="badge"' in listing
    # Under the admins policy a member sees "Message" only on staff rows.
    set_policy("admins")
    members_page = web.get(reverse("members", args=[circle.slug])).content.decode()
    assert start_url not in members_page
    assert reverse("chat_dm_start", args=[circle.slug, moderator.id]) in members_page


def test_web_refusal_shows_the_reason(circle, member, member2, set_policy):
    _onboard(circle, member, member2)
    set_policy("off")
    web = _client(member)
    response = web.post(reverse("chat_dm_start", args=[circle.slug, member2.id]), follow=True)
    assert "Direct messages are turned off in this circle." in response.content.decode()
    assert DmPair.objects.count() == 0
    assert web.get(reverse("chat_dm_start", args=[circle.slug, member2.id])).status_code == 405


def test_web_block_from_room_and_unblock_from_profile(circle, member, member2):
    _onboard(circle, member, member2)
    group = dms.do_start_dm(actor=member, circle=circle, user_id=member2.id)
    web = _client(member)
    room_url = reverse("room", args=[circle.slug, group.id])
    response = web.post(reverse("chat_block", args=[member2.id]), {"next": room_url})
    assert response.status_code == 302 and response["Location"] == room_url
    room = web.get(room_url).content.decode()
    assert "You blocked this person" in room and 'id="composer"' not in room
    assert reverse("chat_unblock", args=[member2.id]) in room
    # The blocked person sees the plain reason and no composer.
    other_room = _client(member2).get(room_url).content.decode()
    assert "You can&#x27;t message this person." in other_room and 'id="composer"' not in other_room
    profile = web.get(reverse("profile")).content.decode()
    assert member2.username in profile and reverse("chat_unblock", args=[member2.id]) in profile
    web.post(reverse("chat_unblock", args=[member2.id]))
    assert not Block.objects.exists()
    assert 'id="composer"' in web.get(room_url).content.decode()
    # Bad targets: a clear message, nothing stored.
    response = web.post(reverse("chat_block", args=[member.id]), follow=True)
    assert "You cannot block yourself." in response.content.decode()
    response = web.post(reverse("chat_block", args=[987654321]), follow=True)
    assert "No such user." in response.content.decode()
    assert not Block.objects.exists()


def test_web_others_cannot_open_a_dm_and_it_is_not_in_group_pages(circle, owner, member, member2):
    _onboard(circle, owner, member, member2)
    group = dms.do_start_dm(actor=member, circle=circle, user_id=member2.id)
    chat_actions.do_send_message(sender=member, group=group, body="hush")
    web = _client(owner)
    assert web.get(reverse("room", args=[circle.slug, group.id])).status_code == 404
    assert web.post(reverse("group_join", args=[circle.slug, group.id])).status_code == 404
    assert web.post(reverse("group_settings", args=[circle.slug, group.id]), {"slow_mode_seconds": 5}).status_code \
        == 404
    for page in ("circle", "circle_settings", "chat_dms"):
        html = web.get(reverse(page, args=[circle.slug])).content.decode()
        assert reverse("room", args=[circle.slug, group.id]) not in html and "hush" not in html
    member_home = _client(member).get(reverse("circle", args=[circle.slug])).content.decode()
    assert reverse("room", args=[circle.slug, group.id]) not in member_home  # not among the groups


def test_web_settings_form_sets_the_policy(circle, owner):
    _onboard(circle, owner)
    web = _client(owner)
    page = web.get(reverse("circle_settings", args=[circle.slug])).content.decode()
    assert 'name="dm_policy"' in page
    data = {"name": circle.name, "description": "", "rules_text": circle.rules_text, "visibility": "public",
            "join_mode": "open", "timezone": "UTC", "language": "en", "welcome_template": circle.welcome_template,
            "dm_policy": "admins"}
    assert web.post(reverse("circle_settings", args=[circle.slug]), data).status_code == 302
    circle.refresh_from_db()
    assert circle.dm_policy == "admins"
    data["dm_policy"] = "bogus"
    assert web.post(reverse("circle_settings", args=[circle.slug]), data).status_code == 400
    del data["dm_policy"]  # a form without the field leaves the policy alone
    assert web.post(reverse("circle_settings", args=[circle.slug]), data).status_code == 302
    circle.refresh_from_db()
    assert circle.dm_policy == "admins"


def test_web_notice_links_to_the_conversation(circle, member, member2):
    _onboard(circle, member, member2)
    group = dms.do_start_dm(actor=member, circle=circle, user_id=member2.id)
    chat_actions.do_send_message(sender=member, group=group, body="see notice")
    page = _client(member2).get(reverse("notices")).content.decode()
    assert reverse("room", args=[circle.slug, group.id]) in page and "see notice" in page


def test_search_finds_a_dm_only_for_its_two_people(circle, owner, moderator, member, member2,
                                                   django_capture_on_commit_callbacks):
    group = dms.do_start_dm(actor=member, circle=circle, user_id=member2.id)
    with django_capture_on_commit_callbacks(execute=True):
        chat_actions.do_send_message(sender=member, group=group, body="zebracrossing 斑马线 secret")
        chat_actions.do_send_message(sender=member, group=group.circle.main_group, body="zebracrossing in public")
    for user, expected in ((member, 2), (member2, 2), (owner, 1), (moderator, 1)):
        for query in ("zebracrossing", "斑马线"):
            response = api(user).get(f"/api/circles/{circle.slug}/search", q=query)
            assert response.status_code == 200, response.data
            hits = [h for h in response.data["items"] if h["kind"] == "message"]
            if query == "斑马线":
                assert len(hits) == (1 if expected == 2 else 0), (user, hits)
            else:
                assert len(hits) == expected, (user, hits)
            assert all(h["group_id"] != group.id for h in hits) or expected == 2
