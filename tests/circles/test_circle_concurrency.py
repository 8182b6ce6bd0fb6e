"""Real parallel connections racing on the same rows (PostgreSQL only).

``select_for_update`` is a no-op on SQLite, so these run in the PostgreSQL pass of
``make test`` and are skipped, with the reason shown, on SQLite.
"""

from __future__ import annotations

from collections import Counter

import pytest
from django.conf import settings
from racing import outcomes, race

from quanzi.chat import actions as chat_actions
from quanzi.chat.models import Message
from quanzi.circles import actions as circle_actions
from quanzi.circles.models import Circle, Membership, MembershipStatus, Role
from quanzi.core.models import AuditEntry

pytestmark = [
    pytest.mark.skipif(
        not settings.IS_POSTGRES,
        reason="row locks (select_for_update) are a no-op on SQLite; these races run against PostgreSQL "
        "(set QUANZI_DATABASE_URL, as the second `make test` pass does)",
    ),
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(60),
]


def assert_count_consistent(circle: Circle) -> None:
    circle.refresh_from_db()
    active = Membership.objects.filter(circle=circle, status=MembershipStatus.ACTIVE).count()
    assert circle.member_count == active


def test_invite_with_three_uses_admits_exactly_three(circle, admin, make_user):
    invite = circle_actions.do_create_invite(actor=admin, circle=circle, max_uses=3)
    users = [make_user(f"racer{i}") for i in range(8)]

    results = race(len(users), lambda i: circle_actions.do_accept_invite(user=users[i], code=invite.code))

    assert outcomes(results) == Counter({"ok": 3, "error:invite_used_up": 5}), results
    invite.refresh_from_db()
    assert invite.uses == 3
    assert Membership.objects.filter(circle=circle, invite=invite, status=MembershipStatus.ACTIVE).count() == 3
    assert_count_consistent(circle)


def test_same_user_joining_twice_at_once_gets_one_membership(circle, outsider):
    results = race(4, lambda i: circle_actions.do_join_circle(user=outsider, circle=circle))

    assert outcomes(results) == Counter({"ok": 1, "error:already_member": 3}), results
    assert Membership.objects.filter(circle=circle, user=outsider).count() == 1
    assert_count_consistent(circle)


@pytest.mark.parametrize(("action", "loser_code", "status", "audit_action"), [
    (circle_actions.do_ban_member, "already_banned", MembershipStatus.BANNED, "member.ban"),
    (circle_actions.do_kick_member, "member_not_found", MembershipStatus.KICKED, "member.kick"),
])
def test_two_moderators_removing_the_same_member(circle, owner, moderator, member, make_user, action, loser_code,
                                                  status, audit_action):
    second = make_user("moderator2")
    circle_actions.do_join_circle(user=second, circle=circle)
    circle_actions.do_set_role(actor=owner, circle=circle, user_id=second.id, role=Role.MODERATOR)
    circle.refresh_from_db()
    count = circle.member_count
    actors = [moderator, second]

    results = race(2, lambda i: action(actor=actors[i], circle=circle, user_id=member.id, reason=f"by {i}"))

    assert outcomes(results) == Counter({"ok": 1, f"error:{loser_code}": 1}), results
    assert Membership.objects.get(circle=circle, user=member).status == status
    assert AuditEntry.objects.filter(circle=circle, action=audit_action, target_user=member).count() == 1
    circle.refresh_from_db()
    assert circle.member_count == count - 1
    assert_count_consistent(circle)


def test_kick_and_ban_at_once_leave_a_consistent_ban(circle, owner, moderator, admin, member):
    circle.refresh_from_db()
    count = circle.member_count
    calls = [
        lambda: circle_actions.do_kick_member(actor=moderator, circle=circle, user_id=member.id),
        lambda: circle_actions.do_ban_member(actor=admin, circle=circle, user_id=member.id),
    ]

    results = race(2, lambda i: calls[i]())

    # Either order ends banned: a ban after the kick bans the ex-member, a kick after the ban finds no member.
    assert results[1][0] == "ok", results
    assert results[0] in {("error", "member_not_found")} or results[0][0] == "ok", results
    assert Membership.objects.get(circle=circle, user=member).status == MembershipStatus.BANNED
    assert AuditEntry.objects.filter(circle=circle, action="member.ban", target_user=member).count() == 1
    circle.refresh_from_db()
    assert circle.member_count == count - 1
    assert_count_consistent(circle)


def test_concurrent_sends_under_slow_mode_write_one_message(circle, moderator, member):
    main = circle.main_group
    chat_actions.do_update_group(actor=moderator, group=main, slow_mode_seconds=60)
    before = Message.objects.filter(group=main, author=member).count()

    results = race(5, lambda i: chat_actions.do_send_message(sender=member, group=main, body=f"burst {i}"))

    assert outcomes(results) == Counter({"ok": 1, "error:slow_mode": 4}), results
    assert Message.objects.filter(group=main, author=member).count() == before + 1


def test_concurrent_retries_with_one_client_id_write_one_message(circle, member):
    main = circle.main_group

    results = race(4, lambda i: chat_actions.do_send_message(sender=member, group=main, body="hi",
                                                              client_id="retry-1").id)

    assert [kind for kind, _ in results] == ["ok"] * 4, results
    assert len({message_id for _, message_id in results}) == 1
    assert Message.objects.filter(group=main, author=member, client_id="retry-1").count() == 1
