"""Review queue: reports, decisions (approve broadcasts), audit, learning; held messages stay invisible."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from quanzi.chat import actions as chat_actions
from quanzi.chat.models import Message, Notice, NoticeKind
from quanzi.chat.selectors import unread_counts
from quanzi.circles.models import Membership, MembershipStatus
from quanzi.core.errors import Conflict, Forbidden, InvalidInput, NotFound, RateLimited
from quanzi.core.models import AuditEntry
from quanzi.moderation import actions
from quanzi.moderation.learning import learned_from, score_for_circle
from quanzi.moderation.models import CircleLearning, ItemStatus, Report, ReviewItem, Strike

from .conftest import AD_EN, AD_ZH, NORMAL, send

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery-9"


@pytest.fixture
def held(circle, owner, main, member):
    actions.do_update_policy(actor=owner, circle=circle, delete_threshold=1.0)  # everything ad-like is held
    message = send(member, main, AD_ZH)
    assert message.moderation_state == "held"
    return message


def _item(message) -> ReviewItem:
    return ReviewItem.objects.get(kind="message", object_id=message.id)


# --- visibility of held messages ----------------------------------------------------------


def test_held_message_is_invisible_to_others_everywhere(circle, main, member, veteran, held, api_as):
    # API history: the author sees it (held), others do not.
    mine = api_as(member).get(f"/api/groups/{main.id}/messages").data["items"]
    assert [m["moderation_state"] for m in mine if m["id"] == held.id] == ["held"]
    theirs = api_as(veteran).get(f"/api/groups/{main.id}/messages").data["items"]
    assert held.id not in [m["id"] for m in theirs]
    assert held.id not in [m["id"] for m in api_as(veteran).get(f"/api/groups/{main.id}/messages?after=0").data[
        "items"]]
    # Unread counts ignore it.
    others = Message.objects.filter(group=main, deleted_at__isnull=True).exclude(author=veteran)
    assert unread_counts(veteran)[main.id] == others.count() - 1  # all but the held one
    # The web page of the room.
    client = Client()
    client.login(username="veteran", password=PASSWORD)
    page = client.get(f"/c/{circle.slug}/g/{main.id}/").content.decode()
    assert "sx111505" not in page
    # WebSocket sync (the same handler the consumer calls).
    from quanzi.realtime.commands import sync

    assert held.id not in [m["id"] for m in sync(veteran, {"group_id": main.id, "after": 0})["messages"]]
    assert held.id in [m["id"] for m in sync(member, {"group_id": main.id, "after": 0})["messages"]]


def test_held_message_is_not_broadcast(circle, owner, main, member, captured_events,
                                       django_capture_on_commit_callbacks):
    actions.do_update_policy(actor=owner, circle=circle, delete_threshold=1.0)
    with django_capture_on_commit_callbacks(execute=True):
        send(member, main, AD_EN)
    assert "message.new" not in [e.type for e in captured_events]
    notices = [e for e in captured_events if e.type == "notice.new"]
    assert notices and {e.target_user_id for e in notices} == {owner.id}  # the only moderator+ here


def test_cannot_reply_to_a_held_message(main, veteran, held):
    with pytest.raises(NotFound):
        send(veteran, main, "what?", reply_to_id=held.id)


# --- decisions ----------------------------------------------------------------------------


def test_approve_broadcasts_now(circle, owner, moderator, main, held, captured_events,
                                django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        item = actions.do_decide(actor=moderator, circle=circle, item_id=_item(held).id, decision="approve")
    assert item.status == ItemStatus.APPROVED and item.decided_by == moderator and item.decided_at
    assert Message.objects.get(id=held.id).moderation_state == "visible"
    new = [e for e in captured_events if e.type == "message.new"]
    assert len(new) == 1 and new[0].payload["message"]["id"] == held.id
    assert AuditEntry.objects.filter(circle=circle, action="moderation.approve", actor=moderator).exists()
    # the decision taught the circle's model (the task ran on commit, immediate backend in tests)
    assert learned_from(circle.id) == 1 and CircleLearning.objects.get(circle=circle).version == 1
    with pytest.raises(Conflict):
        actions.do_decide(actor=moderator, circle=circle, item_id=item.id, decision="approve")


def test_delete_mute_ban(circle, owner, moderator, main, member, veteran, make_user):
    actions.do_update_policy(actor=owner, circle=circle, delete_threshold=1.0)
    first = send(member, main, AD_ZH)
    item = actions.do_decide(actor=moderator, circle=circle, item_id=_item(first).id, decision="delete",
                             reason="ad")
    assert item.status == ItemStatus.REMOVED and Message.objects.get(id=first.id).moderation_state == "removed"
    assert Strike.objects.filter(user=member).count() == 1
    assert Notice.objects.filter(user=member, kind=NoticeKind.MODERATION).exists()

    second = send(member, main, AD_EN)
    actions.do_decide(actor=moderator, circle=circle, item_id=_item(second).id, decision="mute")
    assert Membership.objects.get(circle=circle, user=member).is_muted()

    spammer = make_user("spammer")
    from quanzi.circles import actions as circle_actions

    circle_actions.do_join_circle(user=spammer, circle=circle)
    third = send(spammer, main, AD_ZH)
    actions.do_decide(actor=moderator, circle=circle, item_id=_item(third).id, decision="ban")
    assert Membership.objects.get(circle=circle, user=spammer).status == MembershipStatus.BANNED
    assert {a for a in AuditEntry.objects.filter(circle=circle).values_list("action", flat=True)} >= {
        "moderation.delete", "moderation.mute", "moderation.ban", "member.mute", "member.ban"}


def test_members_cannot_decide_and_mods_not_on_higher_roles(circle, owner, admin, moderator, member, main, held):
    with pytest.raises(Forbidden):
        actions.do_decide(actor=member, circle=circle, item_id=_item(held).id, decision="delete")
    with pytest.raises(InvalidInput):
        actions.do_decide(actor=moderator, circle=circle, item_id=_item(held).id, decision="nuke")
    # a report on the admin's message: a moderator may not remove it
    visible = send(admin, main, "Admin notice: new route this week")
    item = actions.do_report(reporter=member, circle=circle, kind="message", object_id=visible.id, reason="?")
    with pytest.raises(Forbidden) as caught:
        actions.do_decide(actor=moderator, circle=circle, item_id=item.id, decision="delete")
    assert caught.value.code == "higher_role"


def test_restoring_an_automatic_removal_revokes_the_strike(circle, moderator, main, member):
    removed = send(member, main, AD_ZH)
    assert removed.moderation_state == "removed"
    actions.do_decide(actor=moderator, circle=circle, item_id=_item(removed).id, decision="approve")
    assert Message.objects.get(id=removed.id).moderation_state == "visible"
    assert Strike.objects.get(user=member).revoked_at is not None


def test_learning_changes_the_circle_score(circle, moderator, owner, main, member, make_user,
                                           django_capture_on_commit_callbacks):
    """A circle's own moderators mark a kind of message as fine; the circle's model then scores it lower."""
    text = "团购跑鞋 八折 需要的私聊我"
    before = score_for_circle(circle.id, text).score
    actions.do_update_policy(actor=owner, circle=circle, hold_threshold=0.0, delete_threshold=1.0)
    for i in range(3):
        message = send(member, main, f"{text} {i}")
        with django_capture_on_commit_callbacks(execute=True):
            actions.do_decide(actor=moderator, circle=circle, item_id=_item(message).id, decision="approve")
    assert learned_from(circle.id) == 3
    assert score_for_circle(circle.id, text).score < before


# --- reports ------------------------------------------------------------------------------


def test_reports(circle, owner, main, member, veteran, moderator):
    message = send(veteran, main, NORMAL)
    item = actions.do_report(reporter=member, circle=circle, kind="message", object_id=message.id, reason="ad")
    assert item.status == ItemStatus.PENDING and item.report_count == 1 and item.auto_action == "allow"
    assert Notice.objects.filter(user=moderator, kind=NoticeKind.REPORT).exists()
    with pytest.raises(Conflict) as caught:
        actions.do_report(reporter=member, circle=circle, kind="message", object_id=message.id)
    assert caught.value.code == "already_reported"
    with pytest.raises(InvalidInput) as caught:
        actions.do_report(reporter=veteran, circle=circle, kind="message", object_id=message.id)
    assert caught.value.code == "own_content"
    item = actions.do_report(reporter=moderator, circle=circle, kind="message", object_id=message.id)
    assert item.report_count == 2 and Report.objects.filter(item=item).count() == 2
    with pytest.raises(NotFound):
        actions.do_report(reporter=member, circle=circle, kind="message", object_id=10**9)
    with pytest.raises(InvalidInput):
        actions.do_report(reporter=member, circle=circle, kind="bio", object_id=message.id)
    assert AuditEntry.objects.filter(action="moderation.report").count() == 2


def test_cannot_report_what_you_cannot_see(circle, admin, main, member, held, make_user):
    side = chat_actions.do_create_group(actor=admin, circle=circle, name="Side")
    hidden = send(admin, side, "side talk")
    with pytest.raises(NotFound):
        actions.do_report(reporter=member, circle=circle, kind="message", object_id=hidden.id)
    other = make_user("other")
    from quanzi.circles import actions as circle_actions

    circle_actions.do_join_circle(user=other, circle=circle)
    with pytest.raises(NotFound):  # held: only its author sees it
        actions.do_report(reporter=other, circle=circle, kind="message", object_id=held.id)


def test_reports_are_rate_limited(circle, admin, main, member, monkeypatch):
    monkeypatch.setattr(actions, "REPORTS_PER_HOUR", 3)
    messages = [send(admin, main, f"admin message {i}") for i in range(4)]
    for message in messages[:3]:
        actions.do_report(reporter=member, circle=circle, kind="message", object_id=message.id)
    with pytest.raises(RateLimited) as caught:
        actions.do_report(reporter=member, circle=circle, kind="message", object_id=messages[3].id)
    assert caught.value.code == "report_rate_limited"


# --- the API ------------------------------------------------------------------------------


def test_api_policy_queue_decide_report_trust(circle, owner, admin, moderator, main, member, veteran, api_as):
    r = api_as(admin).get(f"/api/circles/{circle.slug}/moderation/policy")
    assert r.status_code == 200 and r.data["hold_threshold"] == 0.5 and r.data["learned_from"] == 0
    r = api_as(admin).patch(f"/api/circles/{circle.slug}/moderation/policy",
                            {"hold_threshold": 0.7, "delete_threshold": 0.6})
    assert r.status_code == 400 and r.data["code"] == "invalid_threshold"
    r = api_as(admin).patch(f"/api/circles/{circle.slug}/moderation/policy", {"regex_rules": ["(a+)+"]})
    assert r.status_code == 400 and r.data["code"] == "unsafe_regex"
    r = api_as(admin).patch(f"/api/circles/{circle.slug}/moderation/policy",
                            {"delete_threshold": 1.0, "keywords": ["加微信"]})
    assert r.status_code == 200 and r.data["keywords"] == ["加微信"] and r.data["delete_threshold"] == 1.0
    assert api_as(moderator).patch(f"/api/circles/{circle.slug}/moderation/policy", {"enabled": False}
                                   ).status_code == 403

    r = api_as(member).post(f"/api/groups/{main.id}/messages", {"body": AD_EN})
    assert r.status_code == 201 and r.data["moderation_state"] == "held"
    queue = api_as(moderator).get(f"/api/circles/{circle.slug}/moderation/queue").data
    assert queue["pending"] == 1 and queue["items"][0]["object_id"] == r.data["id"]
    assert queue["items"][0]["reasons"] and queue["items"][0]["score"] >= 0.5
    assert api_as(member).get(f"/api/circles/{circle.slug}/moderation/queue").status_code == 403
    d = api_as(moderator).post(f"/api/circles/{circle.slug}/moderation/queue/{queue['items'][0]['id']}/decide",
                               {"decision": "delete"})
    assert d.status_code == 200 and d.data["status"] == "removed" and d.data["decided_by"]["id"] == moderator.id

    ok = api_as(veteran).post(f"/api/groups/{main.id}/messages", {"body": NORMAL}).data
    rep = api_as(member).post(f"/api/circles/{circle.slug}/moderation/reports",
                              {"kind": "message", "object_id": ok["id"], "reason": "spam?"})
    assert rep.status_code == 201 and rep.data["score"] == 0.0  # reporters see no score
    again = api_as(member).post(f"/api/circles/{circle.slug}/moderation/reports",
                                {"kind": "message", "object_id": ok["id"]})
    assert again.status_code == 409 and again.data["code"] == "already_reported"

    t = api_as(admin).call("put", f"/api/circles/{circle.slug}/members/{member.id}/trust", {"level": 2})
    assert t.status_code == 200 and t.data["level"] == 2 and t.data["locked_by_admin"] is True
    bad = api_as(admin).call("put", f"/api/circles/{circle.slug}/members/{member.id}/trust", {"level": 9})
    assert bad.status_code == 400 and bad.data["code"] == "invalid_level"
    assert api_as(member).get(f"/api/circles/{circle.slug}/members/{member.id}/trust").data["level"] == 2
    assert api_as(member).get(f"/api/circles/{circle.slug}/members/{admin.id}/trust").status_code == 403


def test_web_pages(circle, owner, admin, moderator, main, member, held):
    client = Client()
    client.login(username="moderator", password=PASSWORD)
    page = client.get(f"/c/{circle.slug}/moderation/queue/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "sx111505" in html and "Review queue (1)" in html and "score" in html
    item = _item(held)
    r = client.post(f"/c/{circle.slug}/moderation/queue/{item.id}/decide/", {"decision": "delete"},
                    headers={"HX-Request": "true"})
    assert r.status_code == 200 and "Removed" in r.content.decode()
    assert client.get(f"/c/{circle.slug}/moderation/settings/").status_code == 403

    admin_client = Client()
    admin_client.login(username="admin", password=PASSWORD)
    assert admin_client.get(f"/c/{circle.slug}/moderation/settings/").status_code == 200
    bad = admin_client.post(f"/c/{circle.slug}/moderation/settings/", {
        "enabled": "on", "hold_threshold": "0.95", "hold_action": "hold", "delete_threshold": "0.5",
        "delete_action": "delete", "mute_minutes": "60", "kick_after_strikes": "3", "strike_window_days": "30",
        "newcomer_link_hours": "24", "rule_action": "hold", "flood_messages": "10", "flood_seconds": "15",
        "duplicate_groups": "2", "duplicate_minutes": "10",
    })
    assert bad.status_code == 400 and "must not be above" in bad.content.decode()
    r = admin_client.post(f"/c/{circle.slug}/moderation/trust/", {"username": "member", "level": "1"})
    assert r.status_code == 302
    assert json.dumps(AuditEntry.objects.filter(action="moderation.trust_level").values_list("data", flat=True)[0])


def test_search_finds_held_messages_only_once_approved(circle, owner, moderator, main, member, veteran, api_as,
                                                       django_capture_on_commit_callbacks):
    actions.do_update_policy(actor=owner, circle=circle, delete_threshold=1.0)
    with django_capture_on_commit_callbacks(execute=True):
        held = send(member, main, AD_ZH + " zqxjkvb")
    assert held.moderation_state == "held"

    def found() -> list[int]:
        r = api_as(veteran).get(f"/api/circles/{circle.slug}/search?q=zqxjkvb")
        assert r.status_code == 200
        return [i["object_id"] for i in r.data["items"] if i["kind"] == "message"]

    assert found() == []
    with django_capture_on_commit_callbacks(execute=True):
        actions.do_decide(actor=moderator, circle=circle, item_id=_item(held).id, decision="approve")
    assert found() == [held.id]
