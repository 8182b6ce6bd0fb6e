"""Circle reads shared by the web pages and the REST API: lists, filters, stats, and the
rule for listing former members."""

from __future__ import annotations

import pytest

from quanzi.circles import actions as circle_actions
from quanzi.circles import rules, selectors
from quanzi.circles.models import JoinMode, JoinRequestStatus, Membership, MembershipStatus, Role, Visibility
from quanzi.core.errors import Forbidden


def membership(circle, user) -> Membership | None:
    return Membership.objects.filter(circle=circle, user=user).first()


# --- circle lists -------------------------------------------------------------------------


def test_my_memberships_by_name_and_public_circles_biggest_first(circle, owner, member, make_user):
    other = circle_actions.do_create_circle(owner=make_user("o2"), name="Alpine Club", slug="alpine",
                                            description="Hiking in the hills")
    hidden = circle_actions.do_create_circle(owner=make_user("o3"), name="Secret", slug="secret",
                                             visibility=Visibility.PRIVATE)
    circle_actions.do_join_circle(user=member, circle=other)
    assert [m.circle.slug for m in selectors.my_memberships(member)] == ["alpine", "runners"]
    assert [m.circle.slug for m in selectors.my_memberships(member, q=" HILLS ")] == ["alpine"]
    circle_actions.do_leave_circle(user=member, circle=other)
    assert [m.circle.slug for m in selectors.my_memberships(member)] == ["runners"]

    public = [c.slug for c in selectors.public_circles()]
    assert public[0] == "runners" and "alpine" in public and hidden.slug not in public
    assert [c.slug for c in selectors.public_circles(q="alp")] == ["alpine"]
    assert "runners" not in [c.slug for c in selectors.public_circles(exclude_ids=[circle.id])]
    found = selectors.memberships_by_circle(member, [circle.id, other.id, hidden.id])
    assert found[circle.id].status == MembershipStatus.ACTIVE and found[other.id].status == MembershipStatus.LEFT
    assert hidden.id not in found


# --- members ------------------------------------------------------------------------------


@pytest.fixture
def crowd(circle, owner, admin, moderator, member, make_user):
    """Members joined in the order zed, amy (both plain members) after the role holders."""
    zed, amy = make_user("zed"), make_user("amy", display_name="Runner Amy")
    for user in (zed, amy):
        circle_actions.do_join_circle(user=user, circle=circle)
    return {"zed": zed, "amy": amy}


def test_circle_members_owner_first_then_join_order_or_username(circle, crowd):
    by_join = [m.user.username for m in selectors.circle_members(circle)]
    assert by_join == ["owner", "admin", "moderator", "member", "zed", "amy"]
    by_name = [m.user.username for m in selectors.circle_members(circle, order="username")]
    assert by_name == ["owner", "admin", "moderator", "amy", "member", "zed"]
    assert [m.user.username for m in selectors.circle_members(circle, role=Role.MEMBER)] == ["member", "zed", "amy"]
    assert [m.user.username for m in selectors.circle_members(circle, q=" runner ")] == ["amy"]


def test_circle_members_by_status(circle, owner, crowd):
    circle_actions.do_ban_member(actor=owner, circle=circle, user_id=crowd["zed"].id)
    circle_actions.do_kick_member(actor=owner, circle=circle, user_id=crowd["amy"].id)
    assert [m.user.username for m in selectors.circle_members(circle, status=MembershipStatus.BANNED)] == ["zed"]
    assert [m.user.username for m in selectors.circle_members(circle, status=MembershipStatus.KICKED)] == ["amy"]
    assert "zed" not in [m.user.username for m in selectors.circle_members(circle)]


@pytest.mark.parametrize(
    ("who", "code"),
    [("owner", None), ("admin", None), ("moderator", None), ("member", "insufficient_role"),
     ("outsider", "not_member")],
)
def test_former_members_are_listed_for_moderators_and_up(circle, owner, admin, moderator, member, outsider,
                                                         who, code):
    actor = membership(circle, {"owner": owner, "admin": admin, "moderator": moderator, "member": member,
                                "outsider": outsider}[who])
    assert rules.can_view_former_members(actor) is (code is None)
    if code is None:
        rules.check_view_former_members(actor)
    else:
        with pytest.raises(Forbidden) as refused:
            rules.check_view_former_members(actor)
        assert refused.value.code == code


def test_a_banned_moderator_may_not_list_former_members(circle, owner, moderator):
    circle_actions.do_ban_member(actor=owner, circle=circle, user_id=moderator.id)
    assert not rules.can_view_former_members(membership(circle, moderator))


# --- join requests and invites ------------------------------------------------------------


def test_join_requests_pending_oldest_first_and_recent_decisions(circle, owner, make_user):
    circle_actions.do_update_circle(actor=owner, circle=circle, join_mode=JoinMode.APPROVAL)
    first, second, third = (make_user(f"asker{n}") for n in range(3))
    requests = [circle_actions.do_join_circle(user=u, circle=circle).join_request for u in (first, second, third)]
    assert [r.user_id for r in selectors.join_requests(circle)] == [first.id, second.id, third.id]
    assert selectors.pending_join_request_count(circle) == 3
    assert selectors.pending_join_request(circle, second).id == requests[1].id
    circle_actions.do_decide_join_request(actor=owner, request_id=requests[0].id, approve=False)
    circle_actions.do_decide_join_request(actor=owner, request_id=requests[2].id, approve=True)
    assert [r.user_id for r in selectors.join_requests(circle)] == [second.id]
    assert [r.user_id for r in selectors.join_requests(circle, status=JoinRequestStatus.REJECTED)] == [first.id]
    assert [r.user_id for r in selectors.recent_join_decisions(circle)] == [third.id, first.id]
    assert [r.user_id for r in selectors.recent_join_decisions(circle, limit=1)] == [third.id]
    assert selectors.pending_join_request(circle, first) is None


def test_circle_invites_newest_first_revoked_on_request(circle, owner):
    old = circle_actions.do_create_invite(actor=owner, circle=circle)
    new = circle_actions.do_create_invite(actor=owner, circle=circle)
    circle_actions.do_revoke_invite(actor=owner, circle=circle, invite_id=old.id)
    assert [i.id for i in selectors.circle_invites(circle, include_revoked=True)] == [new.id, old.id]
    assert [i.id for i in selectors.circle_invites(circle, include_revoked=False)] == [new.id]


# --- the audit log ------------------------------------------------------------------------


@pytest.fixture
def logged(circle, owner, admin, member, make_user):
    """A member whose username is all digits, muted and kicked; the admin muted too."""
    digits = make_user(str(member.id))  # the username equals another user's id
    circle_actions.do_join_circle(user=digits, circle=circle)
    circle_actions.do_mute_member(actor=owner, circle=circle, user_id=member.id, minutes=5, reason="flood")
    circle_actions.do_mute_member(actor=owner, circle=circle, user_id=digits.id, minutes=5)
    circle_actions.do_kick_member(actor=admin, circle=circle, user_id=member.id)
    return digits


def test_audit_entries_filters(circle, owner, admin, member, logged):
    def actions(**filters) -> list[tuple[str, int | None]]:
        return [(e.action, e.target_user_id) for e in selectors.audit_entries(circle, **filters)]

    assert actions(action="member.kick") == [("member.kick", member.id)]
    assert actions(action="member.", actor="owner") == [
        ("member.mute", logged.id), ("member.mute", member.id), ("member.set_role", admin.id)
    ]
    assert actions(action="member.mu") == []  # without the trailing dot the name must match exactly
    assert actions(action="member.", actor="ADMIN") == [("member.kick", member.id)]
    assert actions(action="member.", actor=str(admin.id)) == [("member.kick", member.id)]
    # The API reads an all-digit name as an id; the web form, which takes usernames, does not.
    assert actions(action="member.mute", target=str(member.id)) == [("member.mute", member.id)]
    assert actions(action="member.mute", target=str(member.id), match_ids=False) == [("member.mute", logged.id)]
    entries = list(selectors.audit_entries(circle))
    assert [e.id for e in entries] == sorted((e.id for e in entries), reverse=True)
    assert "member.mute" in selectors.audit_action_names(circle)
    assert selectors.audit_action_names(circle) == sorted(set(e.action for e in entries))


def test_audit_target_text_only_when_asked(circle, owner):
    circle_actions.do_update_circle(actor=owner, circle=circle, name="Evening Runners")
    entry = selectors.audit_entries(circle, action="circle.update").first()
    assert entry is not None and entry.target_user_id is None
    text = entry.target_repr[:4]
    assert text and selectors.audit_entries(circle, target=text, match_target_text=True).filter(id=entry.id).exists()
    assert not selectors.audit_entries(circle, target=text).filter(id=entry.id).exists()


# --- statistics ---------------------------------------------------------------------------


def test_circle_stats_in_one_query(circle, owner, admin, moderator, member, django_assert_num_queries):
    circle_actions.do_set_channel_follow(user=member, circle=circle, follow=True)
    with django_assert_num_queries(1):
        stats = selectors.circle_stats(circle)
    assert stats.by_role == {"owner": 1, "admin": 1, "moderator": 1, "member": 1}
    assert (stats.member_count, stats.followers, stats.follow.rate, stats.follow.percent) == (4, 2, 0.5, 50)
    assert selectors.channel_follow_stats(circle) == stats.follow


def test_circle_stats_without_a_channel(make_user, django_assert_num_queries):
    plain = circle_actions.do_create_circle(owner=make_user("plain"), name="Plain")
    stats = selectors.circle_stats(plain)
    assert (stats.member_count, stats.followers, stats.follow) == (1, 0, None)
    with django_assert_num_queries(0):
        assert selectors.channel_follow_stats(plain) is None
