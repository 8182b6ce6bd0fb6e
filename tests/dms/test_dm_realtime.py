"""Direct messages over the WebSocket: live delivery to the other person only, the same
refusals as the API as error frames (nothing stored), and live subscription to a new DM.

Embedded hub by default; through Redis pub/sub when QUANZI_REDIS_URL is set."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from quanzi.chat import actions as chat_actions
from quanzi.chat import dms
from quanzi.chat.models import Message
from quanzi.circles import actions as circle_actions

pytestmark = pytest.mark.django_db(transaction=True)

sync = database_sync_to_async


async def test_dm_reaches_the_other_person_only(connect, circle, owner, moderator, member, member2):
    group = await sync(dms.do_start_dm)(actor=member, circle=circle, user_id=member2.id)
    sender = await connect(member)
    peer = await connect(member2)
    third = await connect(moderator)
    boss = await connect(owner)
    ack = await sender.request({"type": "message.send", "group_id": group.id, "body": "just us", "client_id": "c1"})
    assert ack["type"] == "message.ack" and ack["message"]["group_id"] == group.id
    event = await peer.receive_type("message.new")
    assert event["message"]["body"] == "just us" and event["group_id"] == group.id
    notice = await peer.receive_type("notice.new")
    assert notice["notice"]["kind"] == "direct_message"
    assert await third.drain() == []
    assert await boss.drain() == []
    # Reading and syncing work for the two people, and only for them.
    read = await peer.request({"type": "read", "group_id": group.id, "message_id": ack["message"]["id"]})
    assert read["type"] == "read.ack"
    synced = await peer.request({"type": "sync", "group_id": group.id, "after": 0})
    assert [m["body"] for m in synced["messages"]] == ["just us"]
    for socket in (third, boss):
        refused = await socket.request({"type": "sync", "group_id": group.id, "after": 0})
        assert refused["type"] == "error" and refused["code"] == "group_not_found"
        refused = await socket.request({"type": "message.send", "group_id": group.id, "body": "let me in"})
        assert refused["type"] == "error" and refused["code"] == "group_not_found"
    assert await sync(Message.objects.filter(group_id=group.id).count)() == 1


async def test_new_dm_subscribes_both_open_sockets_and_nobody_else(connect, circle, moderator, member, member2):
    peer = await connect(member2)
    sender = await connect(member)
    third = await connect(moderator)
    group = await sync(dms.do_start_dm)(actor=member, circle=circle, user_id=member2.id)
    created = await peer.receive_type("group.created")
    assert created["group_id"] == group.id and created["group"]["kind"] == "dm"
    await sender.receive_type("group.created")
    assert await third.drain() == []
    ack = await sender.request({"type": "message.send", "group_id": group.id, "body": "live"})
    assert ack["type"] == "message.ack"
    assert (await peer.receive_type("message.new"))["message"]["body"] == "live"
    assert await third.drain() == []


@pytest.mark.parametrize("case", ["blocked", "off", "admins", "peer_left"])
async def test_refused_sends_are_error_frames_and_store_nothing(connect, circle, owner, member, member2, case):
    group = await sync(dms.do_start_dm)(actor=member, circle=circle, user_id=member2.id)

    def arrange():
        if case == "blocked":
            dms.do_block(actor=member2, user_id=member.id)
        elif case in ("off", "admins"):
            circle_actions.do_update_circle(actor=owner, circle=circle, dm_policy=case)
        else:
            circle_actions.do_leave_circle(user=member2, circle=circle)

    await sync(arrange)()
    sender = await connect(member)
    reply = await sender.request({"type": "message.send", "group_id": group.id, "body": "anyone?"})
    expected = {"blocked": "dm_blocked", "off": "dm_off", "admins": "dm_admins_only", "peer_left": "dm_not_member"}
    assert reply["type"] == "error" and reply["code"] == expected[case], reply
    if case == "blocked":
        assert reply["message"] == "You can't message this person."
    assert await sync(Message.objects.filter(group_id=group.id).count)() == 0


async def test_rejoined_member_gets_dm_events_again_without_reconnecting(connect, circle, member, member2):
    group = await sync(dms.do_start_dm)(actor=member, circle=circle, user_id=member2.id)
    await sync(circle_actions.do_leave_circle)(user=member2, circle=circle)
    peer = await connect(member2)
    await sync(circle_actions.do_join_circle)(user=member2, circle=circle)
    await peer.receive_type("member.joined")
    await sync(chat_actions.do_send_message)(sender=member, group=group, body="welcome back")
    event = await peer.receive_type("message.new")
    while event["group_id"] != group.id:  # the circle's welcome message comes first
        event = await peer.receive_type("message.new")
    assert event["message"]["body"] == "welcome back"
