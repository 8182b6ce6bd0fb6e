"""Direct messages through the actions: the policy × roles table, blocks both ways, bad input,
what is stored (nothing on a refusal), notices, and that DMs stay out of every group listing."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from quanzi.chat import actions as chat_actions
from quanzi.chat import dms
from quanzi.chat.access import access_group
from quanzi.chat.models import Block, DmPair, Group, GroupKind, GroupMember, Message, Notice, NoticeKind
from quanzi.chat.selectors import groups_for_member, open_groups, unread_by_circle, unread_counts
from quanzi.circles import actions as circle_actions
from quanzi.circles import rules
from quanzi.circles.models import Membership
from quanzi.core.errors import Forbidden, InvalidInput, NotFound, QuanziError

pytestmark = pytest.mark.django_db


def _code(fn, *args, **kwargs) -> str:
    try:
        fn(*args, **kwargs)
    except QuanziError as exc:
        return exc.code
    return "ok"


def _dm_count() -> tuple[int, int, int]:
    return DmPair.objects.count(), Group.objects.filter(kind=GroupKind.DM).count(), Message.objects.count()


# --- the policy × roles table -------------------------------------------------------------------------------

ROLES = ("owner", "admin", "moderator", "member", "member2")
STAFF = {"owner", "admin", "moderator"}


def _expected(policy: str, sender: str, target: str) -> str:
    if sender == target:
        return "dm_self"
    if policy == "off":
        return "dm_off"
    if policy == "admins" and sender not in STAFF and target not in STAFF:
        return "dm_admins_only"
    return "ok"


@pytest.mark.parametrize("policy", ["members", "admins", "off"])
def test_policy_by_roles_start_and_send(request, circle, owner, admin, moderator, member, member2, set_policy,
                                        policy):
    people = {"owner": owner, "admin": admin, "moderator": moderator, "member": member, "member2": member2}
    set_policy(policy)
    for sender in ROLES:
        for target in ROLES:
            want = _expected(policy, sender, target)
            before = _dm_count()
            got = _code(dms.do_start_dm, actor=people[sender], circle=circle, user_id=people[target].id)
            assert got == want, (policy, sender, target, got)
            if want != "ok":
                assert _dm_count() == before  # nothing stored on a refusal
                continue
            group = dms.do_start_dm(actor=people[sender], circle=circle, user_id=people[target].id)
            message = chat_actions.do_send_message(sender=people[sender], group=group, body=f"hi {target}")
            assert message.group_id == group.id
            # The other person may answer under the same rule.
            assert _code(chat_actions.do_send_message, sender=people[target], group=group, body="hello") == "ok"


def test_rule_function_is_symmetric_under_admins_policy(circle, owner, member, moderator):
    m = Membership.objects.get(circle=circle, user=member)
    mod = Membership.objects.get(circle=circle, user=moderator)
    assert rules.can_start_dm("admins", m, mod)
    assert rules.can_start_dm("admins", mod, m)
    assert not rules.can_start_dm("admins", m, m)
    assert not rules.can_start_dm("off", mod, m)
    assert not rules.can_start_dm("members", m, mod, target_blocked_actor=True)
    assert not rules.can_start_dm("members", m, mod, actor_blocked_target=True)
    assert not rules.can_start_dm("bogus", m, mod)
    assert not rules.can_start_dm("members", m, None)


def test_one_conversation_per_pair_whoever_starts(circle, member, member2):
    first = dms.do_start_dm(actor=member, circle=circle, user_id=member2.id)
    again = dms.do_start_dm(actor=member2, circle=circle, user_id=member.id)
    assert first.id == again.id
    assert first.kind == GroupKind.DM
    assert set(GroupMember.objects.filter(group=first).values_list("user_id", flat=True)) == {member.id, member2.id}
    assert DmPair.objects.count() == 1


def test_database_refuses_a_second_pair_and_an_unordered_one(circle, member, member2):
    group = dms.do_start_dm(actor=member, circle=circle, user_id=member2.id)
    low, high = sorted([member.id, member2.id])
    other = Group.objects.create(circle=circle, name="dm", kind=GroupKind.DM)
    with pytest.raises(IntegrityError), transaction.atomic():
        DmPair.objects.create(circle=circle, low_user_id=low, high_user_id=high, group=other)
    with pytest.raises(IntegrityError), transaction.atomic():
        DmPair.objects.create(circle=circle, low_user_id=high, high_user_id=low, group=other)
    assert DmPair.objects.get().group_id == group.id


def test_losing_the_insert_race_returns_the_winners_group(circle, member, member2, monkeypatch):
    """The lookup misses (as if the other request had not committed yet), the insert hits the
    unique constraint, and the savepoint rollback leaves the winner's conversation in place."""
    winner = dms.do_start_dm(actor=member, circle=circle, user_id=member2.id)
    real = dms._find_pair
    calls = {"n": 0}

    def miss_first(*args):
        calls["n"] += 1
        return None if calls["n"] == 1 else real(*args)

    monkeypatch.setattr(dms, "_find_pair", miss_first)
    group = dms.do_start_dm(actor=member2, circle=circle, user_id=member.id)
    assert group.id == winner.id
    assert Group.objects.filter(kind=GroupKind.DM).count() == 1
    assert GroupMember.objects.filter(group__kind=GroupKind.DM).count() == 2


# --- refusals -----------------------------------------------------------------------------------------------


def test_bad_targets(circle, member, outsider, make_user):
    gone = make_user("gone")
    circle_actions.do_join_circle(user=gone, circle=circle)
    circle_actions.do_leave_circle(user=gone, circle=circle)
    before = _dm_count()
    assert _code(dms.do_start_dm, actor=member, circle=circle, user_id=member.id) == "dm_self"
    assert _code(dms.do_start_dm, actor=member, circle=circle, user_id=outsider.id) == "dm_not_member"
    assert _code(dms.do_start_dm, actor=member, circle=circle, user_id=gone.id) == "dm_not_member"
    assert _code(dms.do_start_dm, actor=member, circle=circle, user_id=10**12) == "dm_not_member"
    for junk in (None, "abc", -1, 0, True, 2**70, "1; drop table"):
        assert _code(dms.do_start_dm, actor=member, circle=circle, user_id=junk) == "dm_not_member", junk
    assert _code(dms.do_start_dm, actor=outsider, circle=circle, user_id=member.id) == "not_member"
    assert _dm_count() == before


@pytest.mark.parametrize("how", ["kick", "ban", "leave"])
def test_removed_peer_stops_new_messages_but_not_reading(circle, owner, member, member2, how):
    group = dms.do_start_dm(actor=member, circle=circle, user_id=member2.id)
    chat_actions.do_send_message(sender=member, group=group, body="before")
    if how == "leave":
        circle_actions.do_leave_circle(user=member2, circle=circle)
    else:
        getattr(circle_actions, f"do_{how}_member")(actor=owner, circle=circle, user_id=member2.id)
    count = Message.objects.count()
    assert _code(chat_actions.do_send_message, sender=member, group=group, body="after") == "dm_not_member"
    assert _code(dms.do_start_dm, actor=member, circle=circle, user_id=member2.id) == "dm_not_member"
    assert Message.objects.count() == count
    access_group(group.id, member)  # still readable for the one who stayed
    with pytest.raises(NotFound):  # and not for the one who is out
        access_group(group.id, member2)


def test_rejoining_brings_the_conversation_back(circle, member, member2):
    group = dms.do_start_dm(actor=member, circle=circle, user_id=member2.id)
    chat_actions.do_send_message(sender=member, group=group, body="are you there?")
    circle_actions.do_leave_circle(user=member2, circle=circle)
    assert group.id not in unread_counts(member2)  # a left circle's DMs count nowhere
    circle_actions.do_join_circle(user=member2, circle=circle)
    assert unread_counts(member2, circle_id=circle.id)[group.id] == 1
    assert chat_actions.do_send_message(sender=member2, group=group, body="back").id
    assert dms.do_start_dm(actor=member2, circle=circle, user_id=member.id).id == group.id


def test_policy_change_to_off_stops_existing_conversations(circle, member, moderator, set_policy):
    group = dms.do_start_dm(actor=member, circle=circle, user_id=moderator.id)
    chat_actions.do_send_message(sender=member, group=group, body="one")
    set_policy("admins")
    assert chat_actions.do_send_message(sender=member, group=group, body="two").id  # staff on one side
    set_policy("off")
    count = Message.objects.count()
    assert _code(chat_actions.do_send_message, sender=member, group=group, body="three") == "dm_off"
    assert _code(chat_actions.do_send_message, sender=moderator, group=group, body="three") == "dm_off"
    assert Message.objects.count() == count
    set_policy("members")
    assert chat_actions.do_send_message(sender=moderator, group=group, body="four").id


def test_demotion_under_admins_policy_stops_member_to_member(circle, owner, member, moderator, set_policy):
    set_policy("admins")
    group = dms.do_start_dm(actor=member, circle=circle, user_id=moderator.id)
    circle_actions.do_set_role(actor=owner, circle=circle, user_id=moderator.id, role="member")
    assert _code(chat_actions.do_send_message, sender=member, group=group, body="x") == "dm_admins_only"


def test_muted_member_cannot_send_dms(circle, owner, member, member2):
    group = dms.do_start_dm(actor=member, circle=circle, user_id=member2.id)
    circle_actions.do_mute_member(actor=owner, circle=circle, user_id=member.id, minutes=5)
    assert _code(chat_actions.do_send_message, sender=member, group=group, body="x") == "muted"


def test_edits_follow_the_rule_too(circle, member, member2, set_policy):
    group = dms.do_start_dm(actor=member, circle=circle, user_id=member2.id)
    message = chat_actions.do_send_message(sender=member, group=group, body="typo")
    assert chat_actions.do_edit_message(actor=member, message_id=message.id, body="fixed").body == "fixed"
    set_policy("off")
    assert _code(chat_actions.do_edit_message, actor=member, message_id=message.id, body="sneaky") == "dm_off"
    message.refresh_from_db()
    assert message.body == "fixed"


# --- blocks -------------------------------------------------------------------------------------------------


def test_block_stops_both_directions_and_unblock_restores(circle, member, member2, moderator):
    group = dms.do_start_dm(actor=member, circle=circle, user_id=member2.id)
    chat_actions.do_send_message(sender=member, group=group, body="hi")
    dms.do_block(actor=member2, user_id=member.id)
    count = Message.objects.count()
    with pytest.raises(Forbidden) as blocked:
        chat_actions.do_send_message(sender=member, group=group, body="hello?")
    assert blocked.value.code == "dm_blocked"
    assert blocked.value.message == "You can't message this person."
    with pytest.raises(Forbidden) as blocker:
        chat_actions.do_send_message(sender=member2, group=group, body="go away")
    assert blocker.value.code == "dm_blocked"
    assert "Unblock" in blocker.value.message
    assert _code(dms.do_start_dm, actor=member, circle=circle, user_id=member2.id) == "dm_blocked"
    assert Message.objects.count() == count
    # The conversation stays readable for both.
    access_group(group.id, member)
    access_group(group.id, member2)
    # Blocks are personal: others are unaffected.
    assert _code(dms.do_start_dm, actor=moderator, circle=circle, user_id=member2.id) == "ok"
    assert dms.do_unblock(actor=member2, user_id=member.id) is True
    assert dms.do_unblock(actor=member2, user_id=member.id) is False
    assert chat_actions.do_send_message(sender=member, group=group, body="friends again").id


def test_blocks_are_global_across_circles(circle, member, member2, make_user):
    other = circle_actions.do_create_circle(owner=make_user("host"), name="Other", slug="other")
    for user in (member, member2):
        circle_actions.do_join_circle(user=user, circle=other)
    dms.do_block(actor=member, user_id=member2.id)
    assert _code(dms.do_start_dm, actor=member2, circle=other, user_id=member.id) == "dm_blocked"
    assert _code(dms.do_start_dm, actor=member2, circle=circle, user_id=member.id) == "dm_blocked"


def test_block_bad_input(member, member2):
    assert _code(dms.do_block, actor=member, user_id=member.id) == "block_self"
    for junk in (None, "x", 0, -5, True, 10**12):
        assert _code(dms.do_block, actor=member, user_id=junk) == "user_not_found", junk
    dms.do_block(actor=member, user_id=member2.id)
    dms.do_block(actor=member, user_id=member2.id)  # twice: still one row
    assert Block.objects.count() == 1
    assert list(dms.blocked_users(member).values_list("blocked_id", flat=True)) == [member2.id]
    with pytest.raises(IntegrityError), transaction.atomic():
        Block.objects.create(blocker=member, blocked=member)


# --- privacy: nobody else sees, joins, manages or acts on a DM ---------------------------------------------


def test_dm_groups_are_in_no_group_listing(circle, owner, member, member2):
    group = dms.do_start_dm(actor=member, circle=circle, user_id=member2.id)
    for user in (owner, member, member2):
        assert group.id not in [g.id for g in groups_for_member(user, circle.id)]
        assert group.id not in [g.id for g in groups_for_member(user, circle.id, joined_only=True)]
    assert group.id not in [g.id for g in open_groups(circle.id)]


def test_third_members_and_moderators_cannot_touch_a_dm(circle, owner, admin, moderator, member, member2):
    group = dms.do_start_dm(actor=member, circle=circle, user_id=member2.id)
    message = chat_actions.do_send_message(sender=member, group=group, body="secret")
    for other in (owner, admin, moderator):
        with pytest.raises(NotFound):
            access_group(group.id, other, require_seat=False)
        assert _code(chat_actions.do_join_group, user=other, group=group) == "group_not_found"
        assert _code(chat_actions.do_send_message, sender=other, group=group, body="x") == "group_not_found"
        assert _code(chat_actions.do_update_group, actor=other, group=group, mute_all=True) == "group_not_found"
        assert _code(chat_actions.do_delete_message, actor=other, message_id=message.id) == "message_not_found"
        assert _code(chat_actions.do_set_pinned, actor=other, message_id=message.id, pinned=True) == (
            "message_not_found")
        assert _code(chat_actions.do_mark_read, user=other, group=group, message_id=message.id) == "group_not_found"
    assert not GroupMember.objects.filter(group=group).exclude(user__in=[member, member2]).exists()
    # The two people cannot leave it or rename it either.
    assert _code(chat_actions.do_leave_group, user=member, group=group) == "cannot_leave_dm"
    assert _code(chat_actions.do_update_group, actor=member, group=group, name="x") == "group_not_found"


def test_in_a_dm_only_the_author_deletes(circle, owner, member):
    group = dms.do_start_dm(actor=owner, circle=circle, user_id=member.id)
    message = chat_actions.do_send_message(sender=member, group=group, body="mine")
    assert _code(chat_actions.do_delete_message, actor=owner, message_id=message.id) == "not_author"
    assert chat_actions.do_delete_message(actor=member, message_id=message.id).deleted_at is not None


def test_unread_counts_and_notices(circle, member, member2):
    group = dms.do_start_dm(actor=member, circle=circle, user_id=member2.id)
    for text in ("one", "two", "three"):
        chat_actions.do_send_message(sender=member, group=group, body=text)
    assert unread_counts(member2, circle_id=circle.id)[group.id] == 3
    assert unread_counts(member, circle_id=circle.id)[group.id] == 0
    assert dms.dm_unread_total(member2, circle.id) == 3
    assert unread_by_circle(member2)[circle.id] >= 3
    # One unread notice per conversation, not one per message.
    notices = Notice.objects.filter(user=member2, kind=NoticeKind.DIRECT_MESSAGE)
    assert notices.count() == 1
    assert notices.get().text.startswith(f"{member.name}: one")
    assert not Notice.objects.filter(user=member, kind=NoticeKind.DIRECT_MESSAGE).exists()
    chat_actions.do_mark_notices_read(user=member2)
    chat_actions.do_send_message(sender=member, group=group, body="four")
    assert notices.count() == 2


def test_conversation_list(circle, member, member2, moderator):
    a = dms.do_start_dm(actor=member, circle=circle, user_id=member2.id)
    b = dms.do_start_dm(actor=moderator, circle=circle, user_id=member.id)
    chat_actions.do_send_message(sender=member2, group=a, body="first")
    chat_actions.do_send_message(sender=moderator, group=b, body="newest 你好")
    rows = dms.dm_conversations(member, circle.id)
    assert [r.group_id for r in rows] == [b.id, a.id]
    assert [r.peer.id for r in rows] == [moderator.id, member2.id]
    assert [r.unread for r in rows] == [1, 1]
    assert rows[0].last_message.body == "newest 你好"
    # Someone else's list doesn't have them.
    assert [r.group_id for r in dms.dm_conversations(member2, circle.id)] == [a.id]
    assert dms.dm_with(member, circle.id, member2.id).id == a.id
    assert dms.dm_with(member2, circle.id, moderator.id) is None
    assert dms.dm_with(member, circle.id, "junk") is None


def test_dm_message_for_review(circle, member, member2):
    group = dms.do_start_dm(actor=member, circle=circle, user_id=member2.id)
    message = chat_actions.do_send_message(sender=member, group=group, body="report me")
    found = dms.dm_message_for_review(message.id)
    assert found.id == message.id and found.body == "report me"
    assert found.group.circle_id == circle.id
    pair = found.group.dm_pair
    assert {pair.low_user_id, pair.high_user_id} == {member.id, member2.id}
    main_message = chat_actions.do_send_message(sender=member, group=Group.objects.get(id=circle.main_group_id),
                                                body="not a dm")
    assert dms.dm_message_for_review(main_message.id) is None
    assert dms.dm_message_for_review("nope") is None
    assert dms.dm_message_for_review(10**13) is None


def test_dm_policy_setting_validation(circle, owner, admin, member):
    assert circle_actions.do_update_circle(actor=admin, circle=circle, dm_policy="admins").dm_policy == "admins"
    with pytest.raises(InvalidInput) as bad:
        circle_actions.do_update_circle(actor=owner, circle=circle, dm_policy="everyone")
    assert bad.value.code == "invalid_dm_policy"
    assert _code(circle_actions.do_update_circle, actor=member, circle=circle, dm_policy="off") == "insufficient_role"
    circle.refresh_from_db()
    assert circle.dm_policy == "admins"


def test_newcomers_wait_to_start_dms(circle, owner, moderator, member, member2):
    """With the moderation app's default wait, a newcomer may write to staff but not yet to a plain member;
    the circle's DM policy is checked first, and an existing conversation is not affected."""
    from quanzi.moderation import actions as moderation_actions

    existing = dms.do_start_dm(actor=member, circle=circle, user_id=member2.id)
    moderation_actions.do_update_policy(actor=owner, circle=circle, newcomer_link_hours=24)
    newcomer = circle_actions.do_join_circle(user=member.__class__.objects.create_user("fresh", "f@example.com"),
                                             circle=circle).membership.user
    assert _code(dms.do_start_dm, actor=newcomer, circle=circle, user_id=member.id) == "trust_level_too_low"
    assert _code(dms.do_start_dm, actor=newcomer, circle=circle, user_id=moderator.id) == "ok"
    assert _code(dms.do_start_dm, actor=newcomer, circle=circle, user_id=newcomer.id) == "dm_self"
    assert dms.do_start_dm(actor=member2, circle=circle, user_id=member.id).id == existing.id


def test_a_reported_dm_message_reaches_the_moderators_and_only_its_people_can_report(circle, owner, moderator,
                                                                                   member, member2):
    """The moderation app's report copies the message into its review queue; moderators read the message
    itself through ``dm_message_for_review``. Nobody outside the conversation can report (or probe) it."""
    from quanzi.moderation import actions as moderation_actions

    group = dms.do_start_dm(actor=member, circle=circle, user_id=member2.id)
    message = chat_actions.do_send_message(sender=member, group=group, body="see you at the track at six")
    for outsider in (owner, moderator):
        assert _code(moderation_actions.do_report, reporter=outsider, circle=circle, kind="message",
                     object_id=message.id) == "content_not_found"
    item = moderation_actions.do_report(reporter=member2, circle=circle, kind="message", object_id=message.id,
                                        reason="spam")
    assert item.object_id == message.id and "track at six" in item.text
    assert dms.dm_message_for_review(item.object_id).author_id == member.id


def test_conversation_list_shows_a_held_message_only_to_its_author(circle, member, member2):
    group = dms.do_start_dm(actor=member, circle=circle, user_id=member2.id)
    chat_actions.do_send_message(sender=member2, group=group, body="plain hello")
    held = chat_actions.do_send_message(sender=member, group=group, body="suspicious offer")
    Message.objects.filter(id=held.id).update(moderation_state="held")
    assert dms.dm_conversations(member, circle.id)[0].last_message.body == "suspicious offer"
    assert dms.dm_conversations(member2, circle.id)[0].last_message.body == "plain hello"
    assert dms.last_message_seen_by(group.id, member2).body == "plain hello"
