"""Chat reads shared by the web UI and the API: unread counts in one query, groups, pins, notices."""

from __future__ import annotations

import pytest

from quanzi.chat import actions as chat_actions
from quanzi.chat import selectors
from quanzi.chat.models import GroupMember, Message, Notice
from quanzi.circles import actions as circle_actions


def send(user, group, body="hello") -> Message:
    return chat_actions.do_send_message(sender=user, group=group, body=body)


def unread_one_query_per_group(user, *, circle_id=None) -> dict[int, int]:
    """The straightforward definition (one count per seat) that the aggregated query must match."""
    seats = GroupMember.objects.filter(user=user)
    if circle_id is not None:
        seats = seats.filter(group__circle_id=circle_id)
    return {
        group_id: Message.objects.filter(group_id=group_id, id__gt=last_read, deleted_at__isnull=True)
        .exclude(author=user)
        .count()
        for group_id, last_read in seats.values_list("group_id", "last_read_message_id")
    }


@pytest.fixture
def busy(circle, owner, admin, member, make_user):
    """``member`` sits in four groups over two circles, with read, unread, own, deleted and system messages."""
    main = circle.main_group
    side = chat_actions.do_create_group(actor=owner, circle=circle, name="Side")
    chat_actions.do_join_group(user=member, group=side)
    chat_actions.do_join_group(user=admin, group=side)
    quiet = chat_actions.do_create_group(actor=owner, circle=circle, name="Quiet")
    chat_actions.do_join_group(user=member, group=quiet)
    other_owner = make_user("other_owner")
    other = circle_actions.do_create_circle(owner=other_owner, name="Other", slug="other")
    circle_actions.do_join_circle(user=member, circle=other)

    for group in (main, side, quiet, other.main_group):
        chat_actions.do_mark_read(user=member, group=group, message_id=Message.objects.latest("id").id)
    read_before = send(admin, main, "read already")
    chat_actions.do_mark_read(user=member, group=main, message_id=read_before.id)
    send(admin, main, "unread 1")
    send(owner, main, "unread 2")
    gone = send(admin, main, "deleted, so not unread")
    chat_actions.do_delete_message(actor=admin, message_id=gone.id)
    send(member, side, "my own post moves my marker")
    send(admin, side, "unread in side")
    # Own messages never count, even past the marker (send_message moves it; an import would not).
    Message.objects.create(group=side, author=member, body="imported", body_html="<p>imported</p>")
    chat_actions.post_system_message(group=side, body="a system message has no author and counts")
    send(other_owner, other.main_group, "unread elsewhere")
    return {"main": main, "side": side, "quiet": quiet, "other": other}


def test_unread_counts_exact_values(busy, member):
    expected = {busy["main"].id: 2, busy["side"].id: 2, busy["quiet"].id: 0, busy["other"].main_group_id: 1}
    counts = selectors.unread_counts(member)
    assert {gid: counts[gid] for gid in expected} == expected
    assert set(counts) == set(GroupMember.objects.filter(user=member).values_list("group_id", flat=True))
    in_first = selectors.unread_counts(member, circle_id=busy["main"].circle_id)
    assert busy["other"].main_group_id not in in_first and in_first[busy["side"].id] == 2


def test_unread_counts_match_the_per_group_definition_for_everyone(busy, owner, admin, member):
    for user in (owner, admin, member):
        assert selectors.unread_counts(user) == unread_one_query_per_group(user)
        circle_id = busy["main"].circle_id
        assert selectors.unread_counts(user, circle_id=circle_id) == unread_one_query_per_group(
            user, circle_id=circle_id
        )


def test_unread_counts_is_one_query_however_many_groups(busy, owner, member, django_assert_num_queries):
    for n in range(5):
        group = chat_actions.do_create_group(actor=owner, circle=busy["main"].circle, name=f"Extra {n}")
        chat_actions.do_join_group(user=member, group=group)
        send(owner, group, "new")
    with django_assert_num_queries(1):
        counts = selectors.unread_counts(member)
    assert len(counts) == GroupMember.objects.filter(user=member).count() >= 9
    with django_assert_num_queries(1):
        selectors.unread_counts(member, circle_id=busy["main"].circle_id)
    with django_assert_num_queries(1):
        per_circle = selectors.unread_by_circle(member)
    assert per_circle[busy["other"].id] == 1
    assert per_circle[busy["main"].circle_id] == 2 + 2 + 0 + 5


def test_unread_by_group_carries_the_circle(busy, member):
    rows = selectors.unread_by_group(member)
    assert [r.group_id for r in rows] == sorted(r.group_id for r in rows)
    assert {r.group_id: r.circle_id for r in rows}[busy["other"].main_group_id] == busy["other"].id


def test_unread_counts_for_a_user_without_seats(outsider, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert selectors.unread_counts(outsider) == {}


def test_groups_for_member_and_joined_only(busy, member, outsider, owner):
    circle_id = busy["main"].circle_id
    chat_actions.do_create_group(actor=owner, circle=busy["main"].circle, name="Not joined")
    all_groups = list(selectors.groups_for_member(member, circle_id))
    joined = list(selectors.groups_for_member(member, circle_id, joined_only=True))
    assert [g.name for g in all_groups][-1] == "Not joined"
    assert "Not joined" not in [g.name for g in joined]
    assert {g.id for g in joined} == set(
        GroupMember.objects.filter(user=member, group__circle_id=circle_id).values_list("group_id", flat=True)
    )
    assert [g.id for g in selectors.open_groups(circle_id)] == [g.id for g in all_groups]


def test_pinned_messages_newest_pin_first_without_deleted(circle, admin, member):
    main = circle.main_group
    first, second, gone = send(member, main, "a"), send(member, main, "b"), send(member, main, "c")
    for message in (first, second, gone):
        chat_actions.do_set_pinned(actor=admin, message_id=message.id, pinned=True)
    chat_actions.do_delete_message(actor=admin, message_id=gone.id)
    assert [m.id for m in selectors.pinned_messages(main)] == [second.id, first.id]
    assert [m.id for m in selectors.pinned_messages(main, limit=1)] == [second.id]


def test_notices_for_only_mine_and_unread_filter(circle, member, owner):
    mine = list(selectors.notices_for(member))
    assert mine and all(n.user_id == member.id for n in mine)
    assert [n.id for n in mine] == sorted((n.id for n in mine), reverse=True)
    chat_actions.do_mark_notices_read(user=member, notice_ids=[mine[0].id])
    assert mine[0].id not in {n.id for n in selectors.notices_for(member, unread_only=True)}
    assert selectors.notices_for(member, unread_only=True).count() == Notice.objects.filter(
        user=member, read_at__isnull=True
    ).count()
