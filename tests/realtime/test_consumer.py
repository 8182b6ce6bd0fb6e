"""The WebSocket end to end through the ASGI application: auth, delivery, commands, rights changes.

These run with the embedded hub by default and through Redis pub/sub when
QUANZI_REDIS_URL is set (the second pass of ``make test``).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from quanzi.chat import actions as chat_actions
from quanzi.chat.models import Group, Message
from quanzi.circles import actions as circle_actions
from quanzi.circles.models import JoinMode, Membership

pytestmark = pytest.mark.django_db(transaction=True)

sync = database_sync_to_async


def _main_group(circle) -> Group:
    return Group.objects.get(id=circle.main_group_id)


async def _send(user, circle, body: str) -> Message:
    def run():
        return chat_actions.do_send_message(sender=user, group=_main_group(circle), body=body)

    return await sync(run)()


# --- authentication and origin ------------------------------------------------------------


async def test_anonymous_socket_is_closed_with_4401(raw_socket):
    connected, _detail, comm = await raw_socket()
    assert connected  # accepted only to carry the close code
    closing = await comm.receive_output(timeout=3)
    assert closing == {"type": "websocket.close", "code": 4401}


async def test_invalid_token_is_anonymous(raw_socket, member, session_cookie_for):
    cookie = await sync(session_cookie_for)(member)
    # A bad token never falls back to the cookie's user.
    connected, _detail, comm = await raw_socket(token="qz_not-a-real-token", cookie=cookie)
    assert connected
    assert await comm.receive_output(timeout=3) == {"type": "websocket.close", "code": 4401}


async def test_foreign_origin_is_refused(raw_socket, member, session_cookie_for):
    cookie = await sync(session_cookie_for)(member)
    connected, _code, _comm = await raw_socket(cookie=cookie, origin=(b"origin", b"https://evil.example"))
    assert not connected


async def test_missing_origin_is_refused_for_cookie_auth(raw_socket, member, session_cookie_for):
    cookie = await sync(session_cookie_for)(member)
    connected, _code, _comm = await raw_socket(cookie=cookie, origin=None)
    assert not connected


async def test_foreign_origin_is_refused_even_with_a_token(raw_socket, member, token_for):
    token = await sync(token_for)(member)
    connected, _code, _comm = await raw_socket(token=token, origin=(b"origin", b"https://evil.example"))
    assert not connected


async def test_session_cookie_auth(raw_socket, member, session_cookie_for):
    cookie = await sync(session_cookie_for)(member)
    connected, _detail, comm = await raw_socket(cookie=cookie)
    assert connected
    assert await comm.receive_json_from(timeout=3) == {"type": "ready", "user_id": member.id}
    await comm.disconnect()


async def test_token_auth_by_query_and_by_header_without_origin(raw_socket, member, token_for):
    token = await sync(token_for)(member)
    for kwargs in ({"token": token}, {"token": token, "bearer": True, "origin": None}):
        connected, _detail, comm = await raw_socket(**kwargs)
        assert connected
        assert await comm.receive_json_from(timeout=3) == {"type": "ready", "user_id": member.id}
        await comm.disconnect()


# --- delivery -----------------------------------------------------------------------------


async def test_member_receives_message_sent_in_sync_code(connect, circle, owner, member):
    socket = await connect(member)
    message = await _send(owner, circle, "hello from the web UI")
    event = await socket.receive_type("message.new")
    assert event["circle_id"] == circle.id
    assert event["group_id"] == circle.main_group_id
    assert event["actor_id"] == owner.id
    assert event["message"]["id"] == message.id
    assert event["message"]["body"] == "hello from the web UI"


async def test_message_sent_over_the_socket_is_persisted_acked_and_delivered(connect, circle, owner, member):
    owner_socket = await connect(owner)
    member_socket = await connect(member)
    ack = await owner_socket.request(
        {"type": "message.send", "group_id": circle.main_group_id, "body": "über WS 你好", "client_id": "c-1"}
    )
    assert ack["type"] == "message.ack"
    stored = await sync(Message.objects.get)(id=ack["message"]["id"])
    assert stored.body == "über WS 你好" and stored.author_id == owner.id and stored.client_id == "c-1"
    event = await member_socket.receive_type("message.new")
    assert event["message"]["id"] == stored.id
    assert event["message"]["body"] == "über WS 你好"
    # A retry with the same client_id returns the same message and writes nothing.
    again = await owner_socket.request(
        {"type": "message.send", "group_id": circle.main_group_id, "body": "über WS 你好", "client_id": "c-1"}
    )
    assert again["message"]["id"] == stored.id
    assert await sync(Message.objects.filter(client_id="c-1").count)() == 1


async def test_each_socket_gets_an_event_once(connect, circle, owner, member):
    socket = await connect(member)
    await _send(owner, circle, "once")
    frames = await socket.drain(0.4)
    assert [f["message"]["body"] for f in frames if f["type"] == "message.new"] == ["once"]


async def test_non_member_never_receives_circle_events(connect, circle, owner, member, outsider):
    outsider_socket = await connect(outsider)
    member_socket = await connect(member)
    await _send(owner, circle, "members only")
    await sync(circle_actions.do_mute_member)(actor=owner, circle=circle, user_id=member.id, minutes=5)
    await member_socket.receive_type("member.muted")
    assert await outsider_socket.drain(0.3) == []


async def test_notice_goes_only_to_its_user(connect, circle, owner, member, moderator):
    member_socket = await connect(member)
    moderator_socket = await connect(moderator)
    await _send(owner, circle, "ping @member please")
    notice = await member_socket.receive_type("notice.new")
    assert notice["user_id"] == member.id
    assert notice["notice"]["kind"] == "mention"
    frames = await moderator_socket.drain(0.3)
    assert [f["type"] for f in frames] == ["message.new"]


async def test_join_requests_reach_moderators_and_the_requester_only(
    connect, circle, owner, member, moderator, outsider
):
    await sync(circle_actions.do_update_circle)(actor=owner, circle=circle, join_mode=JoinMode.APPROVAL)
    member_socket = await connect(member)
    moderator_socket = await connect(moderator)
    outsider_socket = await connect(outsider)
    await sync(circle_actions.do_join_circle)(user=outsider, circle=circle)
    assert (await moderator_socket.receive_type("join_request.created"))["user_id"] == outsider.id
    assert (await outsider_socket.receive_type("join_request.created"))["user_id"] == outsider.id
    assert [f["type"] for f in await member_socket.drain(0.3)] == []


# --- commands and errors ------------------------------------------------------------------


async def test_muted_member_gets_error_frame_and_nothing_is_written(connect, circle, owner, member):
    await sync(circle_actions.do_mute_member)(actor=owner, circle=circle, user_id=member.id, minutes=10)
    socket = await connect(member)
    before = await sync(Message.objects.count)()
    reply = await socket.request({"type": "message.send", "group_id": circle.main_group_id, "body": "let me talk"})
    assert reply["type"] == "error"
    assert reply["code"] == "muted"
    assert reply["message"]
    assert await sync(Message.objects.count)() == before


async def test_slow_mode_error_frame_has_retry_after(connect, circle, owner, member):
    await sync(chat_actions.do_update_group)(actor=owner, group=await sync(_main_group)(circle), slow_mode_seconds=60)
    socket = await connect(member)
    first = await socket.request({"type": "message.send", "group_id": circle.main_group_id, "body": "one"})
    assert first["type"] == "message.ack"
    second = await socket.request({"type": "message.send", "group_id": circle.main_group_id, "body": "two"})
    assert second["type"] == "error"
    assert second["code"] == "slow_mode"
    assert 0 < second["retry_after"] <= 60


async def test_sending_to_a_group_of_another_circle_is_not_found(connect, circle, outsider):
    socket = await connect(outsider)
    reply = await socket.request({"type": "message.send", "group_id": circle.main_group_id, "body": "hi"})
    assert reply["type"] == "error" and reply["code"] == "group_not_found"
    missing = await socket.request({"type": "message.send", "group_id": 987654321, "body": "hi"})
    assert missing == {**reply, "ref": missing["ref"]}  # a missing id answers exactly the same


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        "[1, 2]",
        '{"type": "no.such.thing"}',
        '{"type": 5}',
        '{"type": "message.send", "body": "no group"}',
        '{"type": "message.send", "group_id": "7", "body": "id as text"}',
        '{"type": "message.send", "group_id": true, "body": "bool id"}',
        '{"type": "message.send", "group_id": 1}',
        '{"type": "read", "group_id": 1}',
        '{"type": "sync", "group_id": 1, "after": -1}',
        '{"type": "ping", "ref": {"nested": 1}}',
    ],
)
async def test_malformed_frames_get_bad_request_and_the_socket_stays_usable(connect, member, text):
    socket = await connect(member)
    await socket.comm.send_to(text_data=text)
    reply = await socket.receive()
    assert reply["type"] == "error"
    assert reply["code"] == "bad_request"
    assert (await socket.request({"type": "ping"}))["type"] == "pong"


async def test_oversized_and_binary_frames_are_errors(connect, member):
    socket = await connect(member)
    await socket.comm.send_to(text_data='{"type":"ping","pad":"' + "x" * 70_000 + '"}')
    too_large = await socket.receive()
    assert too_large["type"] == "error" and too_large["code"] == "too_large"
    await socket.comm.send_to(bytes_data=b"\x00\x01")
    binary = await socket.receive()
    assert binary["type"] == "error" and binary["code"] == "bad_request"
    assert (await socket.request({"type": "ping"}))["type"] == "pong"


async def test_edit_delete_read_and_sync(connect, circle, owner, member):
    member_socket = await connect(member)
    owner_socket = await connect(owner)
    first = await owner_socket.request({"type": "message.send", "group_id": circle.main_group_id, "body": "v1"})
    message_id = first["message"]["id"]

    edited = await owner_socket.request({"type": "message.edit", "message_id": message_id, "body": "v2"})
    assert edited["type"] == "message.ack" and edited["message"]["body"] == "v2"
    assert (await member_socket.receive_type("message.edited"))["message"]["body"] == "v2"

    refused = await member_socket.request({"type": "message.edit", "message_id": message_id, "body": "mine now"})
    assert refused["type"] == "error" and refused["code"] == "not_author"

    read = await member_socket.request({"type": "read", "group_id": circle.main_group_id, "message_id": message_id})
    assert read == {**read, "type": "read.ack", "last_read_message_id": message_id}

    second = await owner_socket.request({"type": "message.send", "group_id": circle.main_group_id, "body": "v3"})
    missed = await member_socket.request({"type": "sync", "group_id": circle.main_group_id, "after": message_id})
    assert missed["type"] == "sync" and missed["more"] is False
    assert [m["id"] for m in missed["messages"]] == [second["message"]["id"]]

    deleted = await owner_socket.request({"type": "message.delete", "message_id": message_id})
    assert deleted["type"] == "message.ack" and deleted["message"]["deleted"] is True
    assert (await member_socket.receive_type("message.deleted"))["message_id"] == message_id


# --- rights change at once ----------------------------------------------------------------


@pytest.mark.parametrize("removal", ["kick", "ban", "leave"])
async def test_removed_member_gets_the_event_then_nothing_more(
    connect, circle, owner, member, moderator, removal
):
    removed_socket = await connect(member)
    other_socket = await connect(moderator)
    if removal == "kick":
        await sync(circle_actions.do_kick_member)(actor=owner, circle=circle, user_id=member.id, reason="spam")
        expected = "member.kicked"
    elif removal == "ban":
        await sync(circle_actions.do_ban_member)(actor=owner, circle=circle, user_id=member.id, reason="spam")
        expected = "member.banned"
    else:
        await sync(circle_actions.do_leave_circle)(user=member, circle=circle)
        expected = "member.left"
    about_me = await removed_socket.receive_type(expected)
    assert about_me["user_id"] == member.id
    await other_socket.receive_type(expected)

    await _send(owner, circle, "after the removal")
    assert (await other_socket.receive_type("message.new"))["message"]["body"] == "after the removal"
    assert await removed_socket.drain(0.3) == []
    # Nor can the open socket still post there.
    refused = await removed_socket.request({"type": "message.send", "group_id": circle.main_group_id, "body": "x"})
    assert refused["type"] == "error" and refused["code"] == "group_not_found"


async def test_removal_also_drops_other_groups_of_the_circle(connect, circle, owner, member):
    extra = await sync(chat_actions.do_create_group)(actor=owner, circle=circle, name="Side room")
    await sync(chat_actions.do_join_group)(user=member, group=extra)
    socket = await connect(member)
    await sync(circle_actions.do_kick_member)(actor=owner, circle=circle, user_id=member.id)
    await socket.receive_type("member.kicked")
    await sync(chat_actions.do_send_message)(sender=owner, group=extra, body="side talk")
    assert await socket.drain(0.3) == []


async def test_newly_joined_member_receives_at_once(connect, circle, owner, outsider):
    socket = await connect(outsider)
    await sync(circle_actions.do_join_circle)(user=outsider, circle=circle)
    joined = await socket.receive_type("member.joined")
    assert joined["user_id"] == outsider.id
    welcome = await socket.receive_type("message.new")
    assert welcome["message"]["kind"] == "system"
    await _send(owner, circle, "welcome aboard")
    assert (await socket.receive_type("message.new"))["message"]["body"] == "welcome aboard"


async def test_joining_a_group_subscribes_and_leaving_unsubscribes(connect, circle, owner, member):
    extra = await sync(chat_actions.do_create_group)(actor=owner, circle=circle, name="Side room")
    socket = await connect(member)
    await sync(chat_actions.do_send_message)(sender=owner, group=extra, body="before joining")
    assert await socket.drain(0.3) == []

    await sync(chat_actions.do_join_group)(user=member, group=extra)
    await socket.receive_type("group.member_joined")
    await sync(chat_actions.do_send_message)(sender=owner, group=extra, body="after joining")
    assert (await socket.receive_type("message.new"))["message"]["body"] == "after joining"

    await sync(chat_actions.do_leave_group)(user=member, group=extra)
    await socket.receive_type("group.member_left")
    await sync(chat_actions.do_send_message)(sender=owner, group=extra, body="after leaving")
    assert await socket.drain(0.3) == []


async def test_promotion_to_moderator_starts_join_request_delivery(connect, circle, owner, member, outsider):
    await sync(circle_actions.do_update_circle)(actor=owner, circle=circle, join_mode=JoinMode.APPROVAL)
    socket = await connect(member)
    await sync(circle_actions.do_set_role)(actor=owner, circle=circle, user_id=member.id, role="moderator")
    await socket.receive_type("member.role_changed")
    await sync(circle_actions.do_join_circle)(user=outsider, circle=circle)
    assert (await socket.receive_type("join_request.created"))["user_id"] == outsider.id


async def test_mute_expiry_is_not_needed_to_post_again_after_unmute(connect, circle, owner, member):
    until = timezone.now() + timedelta(minutes=30)
    await sync(circle_actions.do_mute_member)(actor=owner, circle=circle, user_id=member.id, until=until)
    socket = await connect(member)
    refused = await socket.request({"type": "message.send", "group_id": circle.main_group_id, "body": "a"})
    assert refused["code"] == "muted"
    await sync(circle_actions.do_unmute_member)(actor=owner, circle=circle, user_id=member.id)
    await socket.receive_type("member.unmuted")
    ok = await socket.request({"type": "message.send", "group_id": circle.main_group_id, "body": "b"})
    assert ok["type"] == "message.ack"
    assert await sync(Membership.objects.filter(user=member, muted_until__isnull=True).exists)()


async def test_frames_from_a_refused_socket_are_ignored(raw_socket):
    connected, _detail, comm = await raw_socket()
    await comm.send_to(text_data='{"type": "message.send", "group_id": 1, "body": "sneaky"}')
    assert await comm.receive_output(timeout=3) == {"type": "websocket.close", "code": 4401}
    assert await comm.receive_nothing(timeout=0.2)


async def test_nul_characters_are_refused_and_nothing_is_written(connect, circle, member):
    from channels.db import database_sync_to_async

    from quanzi.chat.models import Message

    count = database_sync_to_async(lambda: Message.objects.filter(group=circle.main_group).count())
    before = await count()
    socket = await connect(member)
    reply = await socket.request({"type": "message.send", "group_id": circle.main_group_id, "body": "a\x00b"})
    assert reply["type"] == "error" and reply["code"] == "invalid_text"
    assert await count() == before


async def test_logging_out_closes_the_sockets_of_that_session_only(raw_socket, session_cookie_for, token_for, member):
    from django.test import Client

    client = await sync(Client)()
    await sync(client.force_login)(member)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    connected, _detail, browser = await raw_socket(cookie=cookie)
    assert connected and (await browser.receive_json_from(timeout=5))["type"] == "ready"
    other_cookie = await sync(session_cookie_for)(member)
    connected, _detail, other_browser = await raw_socket(cookie=other_cookie)
    assert connected and (await other_browser.receive_json_from(timeout=5))["type"] == "ready"

    await sync(client.logout)()

    output = await browser.receive_output(timeout=3)
    assert output == {"type": "websocket.close", "code": 4401}
    # Another session of the same user keeps its socket.
    await other_browser.send_json_to({"type": "ping", "ref": 1})
    assert (await other_browser.receive_json_from(timeout=3))["type"] == "pong"
    await other_browser.disconnect()


async def test_a_password_change_closes_every_session_socket_but_not_token_sockets(
    raw_socket, session_cookie_for, connect, member
):
    from django.test import Client

    other_cookie = await sync(session_cookie_for)(member)
    connected, _detail, other_browser = await raw_socket(cookie=other_cookie)
    assert connected and (await other_browser.receive_json_from(timeout=5))["type"] == "ready"
    api_client = await connect(member)

    client = await sync(Client)()
    await sync(client.force_login)(member)
    response = await sync(client.post)(
        "/accounts/password/change/",
        {
            "oldpassword": "correct-horse-battery-9",
            "password1": "a-brand-new-Passw0rd!",
            "password2": "a-brand-new-Passw0rd!",
        },
    )
    assert response.status_code == 302, response.content[:300]

    assert await other_browser.receive_output(timeout=3) == {"type": "websocket.close", "code": 4401}
    assert (await api_client.request({"type": "ping"}))["type"] == "pong"  # tokens are separate credentials
