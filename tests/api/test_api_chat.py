"""Groups, messages, pins, read markers, unread counts and notices over the API."""

from __future__ import annotations

import pytest

from quanzi.chat import actions as chat_actions
from quanzi.chat.models import Group, GroupMember, Message, Notice
from quanzi.chat.selectors import message_to_dict
from quanzi.circles import actions as circle_actions
from quanzi.core.models import AuditEntry

from .helpers import assert_error


@pytest.fixture
def main(circle) -> Group:
    return circle.main_group


def _send(client, group_id: int, body: str, **extra):
    return client.post(f"/api/groups/{group_id}/messages", {"body": body, **extra})


# --- groups -------------------------------------------------------------------------------


def test_list_and_create_groups(circle, admin, member, api_as):
    r = api_as(member).get("/api/circles/runners/groups")
    assert r.status_code == 200
    assert [(g["kind"], g["joined"]) for g in r.data["items"]] == [("main", True), ("channel", True)]

    r = api_as(admin).post("/api/circles/runners/groups", {"name": "Trail runs", "topic": "Weekends"})
    assert r.status_code == 201, r.data
    assert r.data["name"] == "Trail runs" and r.data["joined"] is True and r.data["member_total"] == 1
    assert_error(api_as(member).post("/api/circles/runners/groups", {"name": "Mine"}), 403, "insufficient_role")
    assert_error(api_as(admin).post("/api/circles/runners/groups", {"name": " "}), 400, "invalid_name")
    assert_error(api_as(admin).post("/api/circles/runners/groups", {"name": "C", "kind": "channel"}), 400,
                 "channel_exists")
    assert Group.objects.filter(circle=circle).count() == 3


def test_groups_of_a_circle_you_are_not_in_is_404(circle, main, outsider, api_as):
    assert_error(api_as(outsider).get("/api/circles/runners/groups"), 404, "circle_not_found")
    assert_error(api_as(outsider).get(f"/api/groups/{main.id}"), 404, "group_not_found")
    assert_error(api_as(outsider).get(f"/api/groups/{main.id}/messages"), 404, "group_not_found")
    assert_error(_send(api_as(outsider), main.id, "hi"), 404, "group_not_found")
    assert_error(api_as(outsider).get("/api/groups/999999"), 404, "group_not_found")
    assert not Message.objects.filter(author__username="outsider").exists()


def test_join_leave_group_and_patch(circle, owner, admin, moderator, member, api_as):
    group = chat_actions.do_create_group(actor=admin, circle=circle, name="Trail")
    client = api_as(member)
    assert client.get(f"/api/groups/{group.id}").data["joined"] is False
    assert_error(client.get(f"/api/groups/{group.id}/messages"), 404, "group_not_found")
    assert_error(_send(client, group.id, "hi"), 403, "not_group_member")

    r = client.post(f"/api/groups/{group.id}/join")
    assert r.status_code == 200 and r.data["joined"] is True and r.data["member_total"] == 2
    assert client.get(f"/api/groups/{group.id}/messages").status_code == 200
    r = client.post(f"/api/groups/{group.id}/leave")
    assert r.status_code == 200 and r.data["joined"] is False
    assert_error(client.post(f"/api/groups/{circle.main_group_id}/leave"), 400, "cannot_leave_main")

    r = api_as(moderator).patch(f"/api/groups/{group.id}", {"mute_all": True, "slow_mode_seconds": 30})
    assert r.status_code == 200 and r.data["mute_all"] is True and r.data["slow_mode_seconds"] == 30
    assert_error(api_as(moderator).patch(f"/api/groups/{group.id}", {"name": "X"}), 403, "insufficient_role")
    assert_error(client.patch(f"/api/groups/{group.id}", {"mute_all": False}), 403, "insufficient_role")
    assert_error(api_as(admin).patch(f"/api/groups/{group.id}", {"slow_mode_seconds": -1}), 400, "invalid_slow_mode")
    r = api_as(admin).patch(f"/api/groups/{group.id}", {"name": "Trails", "topic": "Hills"})
    assert r.data["name"] == "Trails" and r.data["topic"] == "Hills" and r.data["slow_mode_seconds"] == 30


# --- messages -----------------------------------------------------------------------------


def test_send_message_shape_matches_the_shared_serialiser(circle, main, member, api_as):
    r = _send(api_as(member), main.id, "Hello **team** @owner", client_id="c-1")
    assert r.status_code == 201, r.data
    message = Message.objects.get(id=r.data["id"])
    expected = message_to_dict(message, mentioned_ids=list(message.mentioned_users.values_list("id", flat=True)))
    assert r.data == expected
    assert "<strong>team</strong>" in r.data["html"] and r.data["mentions"] == [circle.created_by_id]
    # Retrying with the same client id returns the same message, not a copy.
    again = _send(api_as(member), main.id, "Hello **team** @owner", client_id="c-1")
    assert again.data["id"] == r.data["id"]
    assert Message.objects.filter(client_id="c-1").count() == 1
    listed = api_as(member).get(f"/api/groups/{main.id}/messages").data["items"]
    assert listed[-1] == expected


def test_message_length_limit(main, member, api_as):
    client = api_as(member)
    before = Message.objects.count()
    assert_error(_send(client, main.id, "x" * 4001), 400, "message_too_long")
    assert_error(_send(client, main.id, "   "), 400, "empty_message")
    assert_error(client.post(f"/api/groups/{main.id}/messages", {"text": "hi"}), 422, "validation_error")
    assert_error(client.post(f"/api/groups/{main.id}/messages", raw='{"body": "hi"'), 400, "malformed_json")
    assert Message.objects.count() == before
    assert _send(client, main.id, "x" * 4000).status_code == 201


def test_muted_member_cannot_post(circle, main, moderator, member, api_as):
    circle_actions.do_mute_member(actor=moderator, circle=circle, user_id=member.id, minutes=10)
    assert_error(_send(api_as(member), main.id, "let me talk"), 403, "muted")
    assert not Message.objects.filter(author=member).exists()


def test_slow_mode(main, moderator, member, api_as):
    chat_actions.do_update_group(actor=moderator, group=main, slow_mode_seconds=60)
    client = api_as(member)
    assert _send(client, main.id, "one").status_code == 201
    r = _send(client, main.id, "two")
    body = assert_error(r, 429, "slow_mode")
    assert 0 < body["retry_after"] <= 60 and 1 <= int(r["Retry-After"]) <= 60
    assert Message.objects.filter(author=member).count() == 1
    # Moderators are exempt.
    assert _send(api_as(moderator), main.id, "a").status_code == 201
    assert _send(api_as(moderator), main.id, "b").status_code == 201


def test_mute_all(main, moderator, member, api_as):
    chat_actions.do_update_group(actor=moderator, group=main, mute_all=True)
    assert_error(_send(api_as(member), main.id, "hi"), 403, "mute_all")
    assert _send(api_as(moderator), main.id, "hi").status_code == 201


def test_at_all_needs_admin(main, admin, moderator, member, api_as):
    assert_error(_send(api_as(member), main.id, "@all run now"), 403, "mention_all_forbidden")
    assert_error(_send(api_as(moderator), main.id, "@all run now"), 403, "mention_all_forbidden")
    assert not Message.objects.filter(body__contains="@all").exists()
    r = _send(api_as(admin), main.id, "@all run now")
    assert r.status_code == 201 and r.data["mentions_all"] is True


def test_channel_is_admins_only(circle, admin, member, api_as):
    assert_error(_send(api_as(member), circle.channel_group_id, "hello"), 403, "channel_admins_only")
    assert _send(api_as(admin), circle.channel_group_id, "Race on Sunday").status_code == 201


def test_reply_to(main, member, owner, api_as):
    first = _send(api_as(owner), main.id, "Who is in?").data
    r = _send(api_as(member), main.id, "Me", reply_to=first["id"])
    assert r.status_code == 201 and r.data["reply_to"]["id"] == first["id"]
    assert_error(_send(api_as(member), main.id, "Me", reply_to=999999), 404, "reply_not_found")


def test_history_cursor_pagination(main, member, api_as):
    client = api_as(member)
    ids = [_send(client, main.id, f"m{i}").data["id"] for i in range(5)]
    newest = client.get(f"/api/groups/{main.id}/messages", limit=2).data
    assert [m["id"] for m in newest["items"]] == ids[-2:]
    assert newest["has_more"] is True and newest["next_before"] == ids[-2] and newest["next_after"] == ids[-1]

    older = client.get(f"/api/groups/{main.id}/messages", before=newest["next_before"], limit=2).data
    assert [m["id"] for m in older["items"]] == ids[1:3]

    caught_up = client.get(f"/api/groups/{main.id}/messages", after=ids[1], limit=2).data
    assert [m["id"] for m in caught_up["items"]] == ids[2:4] and caught_up["has_more"] is True
    rest = client.get(f"/api/groups/{main.id}/messages", after=caught_up["next_after"], limit=2).data
    assert [m["id"] for m in rest["items"]] == ids[4:] and rest["has_more"] is False
    empty = client.get(f"/api/groups/{main.id}/messages", after=ids[-1]).data
    assert empty["items"] == [] and empty["next_after"] == ids[-1]

    assert_error(client.get(f"/api/groups/{main.id}/messages", before=ids[2], after=ids[1]), 400, "invalid_cursor")
    assert_error(client.get(f"/api/groups/{main.id}/messages", limit=201), 422, "validation_error")


def test_edit_message(main, member, moderator, api_as):
    mid = _send(api_as(member), main.id, "helo").data["id"]
    r = api_as(member).patch(f"/api/messages/{mid}", {"body": "hello"})
    assert r.status_code == 200 and r.data["body"] == "hello" and r.data["edited_at"]
    assert_error(api_as(moderator).patch(f"/api/messages/{mid}", {"body": "hijack"}), 403, "not_author")
    assert_error(api_as(member).patch(f"/api/messages/{mid}", {"body": "x" * 4001}), 400, "message_too_long")
    assert_error(api_as(member).patch("/api/messages/999999", {"body": "x"}), 404, "message_not_found")
    assert Message.objects.get(id=mid).body == "hello"


def test_delete_message(circle, main, member, moderator, admin, outsider, api_as):
    own = _send(api_as(member), main.id, "oops").data["id"]
    r = api_as(member).delete(f"/api/messages/{own}")
    assert r.status_code == 200 and r.data["deleted"] is True and r.data["body"] == ""

    theirs = _send(api_as(member), main.id, "spam").data["id"]
    assert_error(api_as(outsider).delete(f"/api/messages/{theirs}"), 404, "message_not_found")
    r = api_as(moderator).delete(f"/api/messages/{theirs}", reason="spam")
    assert r.status_code == 200 and r.data["deleted"] is True
    entry = AuditEntry.objects.get(circle=circle, action="message.delete")
    assert entry.reason == "spam" and entry.data["body"] == "spam"

    admins = _send(api_as(admin), main.id, "admin words").data["id"]
    assert_error(api_as(moderator).delete(f"/api/messages/{admins}"), 403, "higher_role")
    assert_error(api_as(moderator).delete(f"/api/messages/{theirs}"), 404, "message_not_found")


def test_pins(main, member, moderator, api_as):
    mid = _send(api_as(member), main.id, "Meet at 6").data["id"]
    assert_error(api_as(member).post(f"/api/messages/{mid}/pin"), 403, "insufficient_role")
    r = api_as(moderator).post(f"/api/messages/{mid}/pin")
    assert r.status_code == 200 and r.data["pinned"] is True
    pins = api_as(member).get(f"/api/groups/{main.id}/pins")
    assert [m["id"] for m in pins.data["items"]] == [mid]
    r = api_as(moderator).delete(f"/api/messages/{mid}/pin")
    assert r.status_code == 200 and r.data["pinned"] is False
    assert api_as(member).get(f"/api/groups/{main.id}/pins").data["items"] == []
    assert_error(api_as(moderator).post("/api/messages/999999/pin"), 404, "message_not_found")


# --- read markers, unread, notices --------------------------------------------------------


def test_unread_and_read_marker(circle, main, owner, member, api_as):
    client = api_as(member)
    client.post(f"/api/groups/{main.id}/read", {"message_id": Message.objects.filter(group=main).last().id})
    base = {g["group_id"]: g["unread"] for g in client.get("/api/unread").data["groups"]}
    assert base[main.id] == 0
    ids = [_send(api_as(owner), main.id, f"n{i}").data["id"] for i in range(3)]
    r = client.get("/api/unread")
    assert r.status_code == 200
    counts = {g["group_id"]: g for g in r.data["groups"]}
    assert counts[main.id]["unread"] == 3 and counts[main.id]["circle_id"] == circle.id
    assert r.data["total"] == sum(g["unread"] for g in r.data["groups"])

    r = client.post(f"/api/groups/{main.id}/read", {"message_id": ids[1]})
    assert r.status_code == 200 and r.data["last_read_message_id"] == ids[1]
    assert {g["group_id"]: g["unread"] for g in client.get("/api/unread").data["groups"]}[main.id] == 1
    # The marker never moves backward.
    assert client.post(f"/api/groups/{main.id}/read", {"message_id": ids[0]}).data["last_read_message_id"] == ids[1]
    assert_error(client.post(f"/api/groups/{main.id}/read", {"message_id": -1}), 422, "validation_error")
    assert_error(client.post("/api/groups/999999/read", {"message_id": 1}), 404, "group_not_found")
    assert GroupMember.objects.get(group=main, user=member).last_read_message_id == ids[1]


def test_notices(main, owner, member, api_as):
    client = api_as(member)
    welcome = client.get("/api/notices")
    assert welcome.status_code == 200 and welcome.data["unread"] == 1
    assert welcome.data["items"][0]["kind"] == "welcome"
    _send(api_as(owner), main.id, "@member you're up")
    r = client.get("/api/notices")
    assert r.data["total"] == 2 and r.data["unread"] == 2 and r.data["items"][0]["kind"] == "mention"
    assert client.get("/api/unread").data["notices"] == 2

    mention_id = r.data["items"][0]["id"]
    assert client.post("/api/notices/read", {"ids": [mention_id]}).data == {"count": 1}
    assert [n["kind"] for n in client.get("/api/notices", unread_only="true").data["items"]] == ["welcome"]
    # Another user's notice ids change nothing.
    theirs = Notice.objects.filter(user=owner).values_list("id", flat=True)
    assert client.post("/api/notices/read", {"ids": list(theirs)}).data == {"count": 0}
    assert client.post("/api/notices/read").data == {"count": 1}
    assert client.get("/api/notices").data["unread"] == 0
    assert_error(client.post("/api/notices/read", {"ids": ["x"]}), 422, "validation_error")
