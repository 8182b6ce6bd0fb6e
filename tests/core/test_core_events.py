"""Domain events: stored with the change, published to listeners only after commit."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest
from django.db import transaction

from quanzi.chat import actions as chat_actions
from quanzi.circles import actions as circle_actions
from quanzi.circles.models import Circle
from quanzi.core import events
from quanzi.core.errors import QuanziError
from quanzi.core.events import Event, EventType
from quanzi.core.models import DomainEvent


def test_listeners_get_typed_events_after_commit(circle, owner, outsider, captured_events,
                                                 django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        circle_actions.do_join_circle(user=outsider, circle=circle)
        assert captured_events == []  # nothing is published before the commit
    assert callbacks
    for callback in callbacks:
        callback()
    types = [e.type for e in captured_events]
    assert EventType.MEMBER_JOINED in types and EventType.MESSAGE_NEW in types and EventType.NOTICE_NEW in types
    for event in captured_events:
        assert isinstance(event, Event) and isinstance(event.type, EventType)
        assert event.circle_id == circle.id
    joined = next(e for e in captured_events if e.type == EventType.MEMBER_JOINED)
    assert (joined.actor_id, joined.target_user_id) == (outsider.id, outsider.id)
    row = DomainEvent.objects.get(id=joined.id)
    assert (row.type, row.circle_id, row.target_user_id) == ("member.joined", circle.id, outsider.id)
    # Notices are transient: published, not stored.
    notice = next(e for e in captured_events if e.type == EventType.NOTICE_NEW)
    assert notice.id is None and notice.payload["notice"]["kind"] == "welcome"


def test_client_dict_round_trips_through_json(circle, owner, admin, moderator, member, captured_events,
                                              django_capture_on_commit_callbacks):
    main = circle.main_group
    with django_capture_on_commit_callbacks(execute=True):
        msg = chat_actions.do_send_message(sender=member, group=main, body=f"hi @{admin.username} **there**",
                                           client_id="x1")
        reply = chat_actions.do_send_message(sender=admin, group=main, body="hello", reply_to_id=msg.id)
        chat_actions.do_edit_message(actor=admin, message_id=reply.id, body="hello again")
        chat_actions.do_set_pinned(actor=moderator, message_id=msg.id, pinned=True)
        chat_actions.do_update_group(actor=moderator, group=main, slow_mode_seconds=5, mute_all=True)
        chat_actions.do_delete_message(actor=moderator, message_id=msg.id)
        circle_actions.do_mute_member(actor=moderator, circle=circle, user_id=member.id, minutes=5, reason="calm")
        circle_actions.do_set_role(actor=owner, circle=circle, user_id=member.id, role="moderator")
        circle_actions.do_update_circle(actor=owner, circle=circle, name="Renamed", timezone="Asia/Shanghai")
        circle_actions.do_ban_member(actor=owner, circle=circle, user_id=member.id, reason="x")
    seen = {e.type for e in captured_events}
    assert {EventType.MESSAGE_NEW, EventType.MESSAGE_EDITED, EventType.MESSAGE_PINNED, EventType.GROUP_UPDATED,
            EventType.MESSAGE_DELETED, EventType.MEMBER_MUTED, EventType.MEMBER_ROLE_CHANGED,
            EventType.CIRCLE_UPDATED, EventType.MEMBER_BANNED, EventType.NOTICE_NEW} <= seen
    for event in captured_events:
        body = event.client_dict()
        assert json.loads(json.dumps(body)) == body
        assert body["type"] == str(event.type) and body["circle_id"] == event.circle_id
    new = next(e for e in captured_events if e.type == EventType.MESSAGE_NEW and e.actor_id == admin.id)
    assert new.client_dict()["message"]["reply_to"]["id"] == msg.id
    assert new.client_dict()["group_id"] == main.id


def test_rolled_back_transaction_publishes_nothing(circle, moderator, member, captured_events,
                                                   django_capture_on_commit_callbacks):
    stored = DomainEvent.objects.count()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError):
            with transaction.atomic():
                circle_actions.do_kick_member(actor=moderator, circle=circle, user_id=member.id)
                raise RuntimeError("something later in the request failed")
    assert callbacks == []
    assert captured_events == []
    assert DomainEvent.objects.count() == stored


def test_refused_action_publishes_nothing(circle, member, moderator, captured_events,
                                          django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(QuanziError):
            circle_actions.do_kick_member(actor=member, circle=circle, user_id=moderator.id)
    assert callbacks == [] and captured_events == []


def test_a_failing_listener_does_not_stop_the_others(circle, outsider, captured_events,
                                                     django_capture_on_commit_callbacks):
    def broken(event):
        raise ValueError("listener bug")

    events.add_listener(broken)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            circle_actions.do_join_circle(user=outsider, circle=circle)
    finally:
        events.remove_listener(broken)
    assert any(e.type == EventType.MEMBER_JOINED for e in captured_events)


@pytest.mark.parametrize(("tz", "expected"), [
    ("Pacific/Kiritimati", date(2030, 1, 2)),   # UTC+14: already the next day
    ("UTC", date(2030, 1, 1)),
    ("America/Los_Angeles", date(2030, 1, 1)),  # 04:00 the same day
    ("Pacific/Pago_Pago", date(2030, 1, 1)),    # UTC-11: 01:00
    ("Mars/Olympus_Mons", date(2030, 1, 1)),    # an unknown zone falls back to UTC instead of failing
])
def test_event_day_is_the_circle_local_day(monkeypatch, circle, member, moderator, tz, expected):
    Circle.objects.filter(id=circle.id).update(timezone=tz)
    circle.refresh_from_db()
    start = DomainEvent.objects.order_by("-id").values_list("id", flat=True).first()
    monkeypatch.setattr(events, "timezone", SimpleNamespace(now=lambda: datetime(2030, 1, 1, 12, 0, tzinfo=UTC)))
    msg = chat_actions.do_send_message(sender=member, group=circle.main_group, body="hi")
    # Chat actions emit with the circle object (send) or only its id (delete): both use the circle's day.
    chat_actions.do_delete_message(actor=moderator, message_id=msg.id)
    circle_actions.do_kick_member(actor=moderator, circle=circle, user_id=member.id)
    rows = DomainEvent.objects.filter(id__gt=start)
    assert sorted(r.type for r in rows) == ["member.kicked", "message.deleted", "message.new"]
    assert {r.day for r in rows} == {expected}
