"""Joining, leaving, invites, join requests, bans, the welcome, and the announcement channel.

These go through the real actions (not ORM shortcuts), so the welcome message, the group
seats and the member count are the ones a user would get.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from quanzi.chat import actions as chat_actions
from quanzi.chat.models import GroupMember, Message, MessageKind, Notice, NoticeKind
from quanzi.circles import actions as circle_actions
from quanzi.circles.models import (
    DEFAULT_WELCOME,
    Circle,
    Invite,
    JoinMode,
    JoinRequest,
    JoinRequestStatus,
    Membership,
    MembershipStatus,
    Role,
)
from quanzi.circles.selectors import channel_follow_stats
from quanzi.core.models import AuditEntry, DomainEvent

from .helpers import assert_denied


def active_count(circle: Circle) -> int:
    return Membership.objects.filter(circle=circle, status=MembershipStatus.ACTIVE).count()


def assert_count_consistent(circle: Circle) -> None:
    circle.refresh_from_db()
    assert circle.member_count == active_count(circle)


def join(user, circle, **kwargs):
    return circle_actions.do_join_circle(user=user, circle=circle, **kwargs)


def set_mode(circle, owner, mode):
    circle_actions.do_update_circle(actor=owner, circle=circle, join_mode=mode)
    circle.refresh_from_db()


# --- open join and the welcome ------------------------------------------------------------


def test_open_join_makes_a_member_with_seats_welcome_and_event(circle, outsider):
    before = circle.member_count
    result = join(outsider, circle)
    assert result.status == "joined"
    m = result.membership
    assert (m.role, m.status, m.invite_id, m.muted_until) == (Role.MEMBER, MembershipStatus.ACTIVE, None, None)
    circle.refresh_from_db()
    assert circle.member_count == before + 1
    seats = set(GroupMember.objects.filter(user=outsider).values_list("group_id", flat=True))
    assert seats == {circle.main_group_id, circle.channel_group_id}
    event = DomainEvent.objects.get(type="member.joined", target_user=outsider)
    assert (event.circle_id, event.actor_id, event.data["rejoin"]) == (circle.id, outsider.id, False)
    # Joining is the user's own act, not a management action: no audit row.
    assert not AuditEntry.objects.filter(target_user=outsider).exists()


def test_welcome_renders_placeholders_in_main_group_and_notice(circle, owner, make_user):
    circle_actions.do_update_circle(
        actor=owner, circle=circle, welcome_template="Hi {name}! This is {circle}. Rules: {rules} {{literal}}"
    )
    ann = make_user("ann", display_name="Ann Lee")
    join(ann, circle)
    expected = "Hi Ann Lee! This is Morning Runners. Rules: Be kind. {literal}"
    system = Message.objects.filter(group=circle.main_group, kind=MessageKind.SYSTEM).order_by("-id").first()
    assert system.body == expected and system.author_id is None
    assert "Ann Lee" in system.body_html
    notice = Notice.objects.get(user=ann, kind=NoticeKind.WELCOME)
    assert notice.text == expected and notice.circle_id == circle.id


def test_default_welcome_is_rendered(circle, outsider):
    join(outsider, circle)
    notice = Notice.objects.get(user=outsider, kind=NoticeKind.WELCOME)
    assert notice.text == DEFAULT_WELCOME.format(name=outsider.username, circle=circle.name, rules=circle.rules_text)


@pytest.mark.parametrize(
    "template",
    ["{foo}", "Hi {}", "{0}", "{name.__class__}", "{name[0]}", "{name:>999999999}", "{name!r}", "{name", "oops }"],
)
def test_invalid_welcome_template_refused_at_update(circle, owner, template):
    assert_denied(
        "invalid_welcome_template",
        lambda: circle_actions.do_update_circle(actor=owner, circle=circle, welcome_template=template),
    )


def test_invalid_welcome_template_refused_at_create(owner):
    with pytest.raises(Exception) as caught:
        circle_actions.do_create_circle(owner=owner, name="Bad", welcome_template="Hello {foo}")
    assert getattr(caught.value, "code", None) == "invalid_welcome_template"
    assert not Circle.objects.filter(name="Bad").exists()


def test_already_member_refused(circle, member):
    assert_denied("already_member", lambda: join(member, circle))


# --- invites ------------------------------------------------------------------------------


def test_invite_join_counts_use_and_links_membership(circle, admin, outsider):
    invite = circle_actions.do_create_invite(actor=admin, circle=circle, max_uses=2)
    result = circle_actions.do_accept_invite(user=outsider, code=invite.code)
    invite.refresh_from_db()
    assert invite.uses == 1
    assert result.membership.invite_id == invite.id
    assert DomainEvent.objects.get(type="member.joined", target_user=outsider).data["invite_id"] == invite.id


def test_invite_only_mode_requires_an_invite(circle, owner, admin, outsider):
    set_mode(circle, owner, JoinMode.INVITE)
    assert_denied("invite_required", lambda: join(outsider, circle))
    invite = circle_actions.do_create_invite(actor=admin, circle=circle)
    assert circle_actions.do_accept_invite(user=outsider, code=invite.code).status == "joined"


def test_unusable_invites_are_refused_with_their_codes(circle, owner, admin, make_user):
    expired = circle_actions.do_create_invite(actor=admin, circle=circle, expires_in_hours=1)
    Invite.objects.filter(id=expired.id).update(expires_at=timezone.now() - timedelta(seconds=1))
    revoked = circle_actions.do_create_invite(actor=admin, circle=circle)
    circle_actions.do_revoke_invite(actor=admin, circle=circle, invite_id=revoked.id)
    single = circle_actions.do_create_invite(actor=admin, circle=circle, max_uses=1)
    circle_actions.do_accept_invite(user=make_user("first"), code=single.code)

    late = make_user("late")
    assert_denied("invite_expired", lambda: circle_actions.do_accept_invite(user=late, code=expired.code))
    assert_denied("invite_revoked", lambda: circle_actions.do_accept_invite(user=late, code=revoked.code))
    assert_denied("invite_used_up", lambda: circle_actions.do_accept_invite(user=late, code=single.code))
    assert_denied("invite_not_found", lambda: circle_actions.do_accept_invite(user=late, code="no-such-code"))
    # An unusable invite is refused in approval mode too: it does not turn into a join request.
    set_mode(circle, owner, JoinMode.APPROVAL)
    assert_denied("invite_revoked", lambda: circle_actions.do_accept_invite(user=late, code=revoked.code))


def test_invite_of_another_circle_is_not_found(circle, make_user, outsider):
    other_owner = make_user("other_owner")
    other = circle_actions.do_create_circle(owner=other_owner, name="Other")
    foreign = circle_actions.do_create_invite(actor=other_owner, circle=other)
    assert_denied("invite_not_found", lambda: join(outsider, circle, invite=foreign))


@pytest.mark.parametrize(("kwargs", "code"), [
    ({"max_uses": 0}, "invalid_max_uses"),
    ({"max_uses": -3}, "invalid_max_uses"),
    ({"expires_in_hours": 0}, "invalid_expiry"),
    ({"expires_in_hours": 24 * 366}, "invalid_expiry"),
])
def test_invalid_invite_settings(circle, admin, kwargs, code):
    assert_denied(code, lambda: circle_actions.do_create_invite(actor=admin, circle=circle, **kwargs))


# --- approval mode ------------------------------------------------------------------------


def test_approval_mode_files_a_request_and_refuses_duplicates(circle, owner, outsider):
    set_mode(circle, owner, JoinMode.APPROVAL)
    count = circle.member_count
    result = join(outsider, circle, message="  I run 5k every morning  ")
    assert result.status == "requested" and result.membership is None
    request = result.join_request
    assert (request.status, request.message) == (JoinRequestStatus.PENDING, "I run 5k every morning")
    assert not Membership.objects.filter(circle=circle, user=outsider).exists()
    circle.refresh_from_db()
    assert circle.member_count == count
    assert DomainEvent.objects.filter(type="join_request.created", actor=outsider).count() == 1
    assert_denied("request_pending", lambda: join(outsider, circle))


def test_approved_request_makes_a_member_with_welcome(circle, owner, moderator, outsider):
    set_mode(circle, owner, JoinMode.APPROVAL)
    request = join(outsider, circle).join_request
    circle_actions.do_decide_join_request(actor=moderator, request_id=request.id, approve=True)
    membership = Membership.objects.get(circle=circle, user=outsider)
    assert membership.status == MembershipStatus.ACTIVE and membership.role == Role.MEMBER
    assert Notice.objects.filter(user=outsider, kind=NoticeKind.WELCOME).count() == 1
    assert Message.objects.filter(group=circle.main_group, kind=MessageKind.SYSTEM, body__contains=outsider.username)
    assert_count_consistent(circle)
    assert_denied(
        "request_decided",
        lambda: circle_actions.do_decide_join_request(actor=moderator, request_id=request.id, approve=False),
    )


def test_rejected_request_sends_a_notice_and_allows_a_new_request(circle, owner, admin, outsider):
    set_mode(circle, owner, JoinMode.APPROVAL)
    request = join(outsider, circle).join_request
    circle_actions.do_decide_join_request(actor=admin, request_id=request.id, approve=False, reason="spam")
    assert not Membership.objects.filter(circle=circle, user=outsider).exists()
    notice = Notice.objects.get(user=outsider, kind=NoticeKind.JOIN_REQUEST)
    assert circle.name in notice.text
    assert join(outsider, circle).status == "requested"


def test_approval_with_invite_consumes_the_use_on_approval(circle, owner, admin, outsider):
    set_mode(circle, owner, JoinMode.APPROVAL)
    invite = circle_actions.do_create_invite(actor=admin, circle=circle, max_uses=1)
    request = circle_actions.do_accept_invite(user=outsider, code=invite.code).join_request
    invite.refresh_from_db()
    assert invite.uses == 0 and request.invite_id == invite.id
    circle_actions.do_decide_join_request(actor=admin, request_id=request.id, approve=True)
    invite.refresh_from_db()
    assert invite.uses == 1
    assert Membership.objects.get(circle=circle, user=outsider).invite_id == invite.id


def test_unknown_join_request(admin):
    assert_denied(
        "join_request_not_found",
        lambda: circle_actions.do_decide_join_request(actor=admin, request_id=987654, approve=True),
    )


# --- bans, kicks, leaving -----------------------------------------------------------------


def test_banned_user_cannot_rejoin_by_any_path_until_unbanned(circle, owner, admin, moderator, member):
    invite = circle_actions.do_create_invite(actor=admin, circle=circle)
    circle_actions.do_ban_member(actor=moderator, circle=circle, user_id=member.id, reason="spam")
    assert_count_consistent(circle)

    assert_denied("banned", lambda: join(member, circle))
    assert_denied("banned", lambda: circle_actions.do_accept_invite(user=member, code=invite.code))
    set_mode(circle, owner, JoinMode.INVITE)
    assert_denied("banned", lambda: circle_actions.do_accept_invite(user=member, code=invite.code))
    set_mode(circle, owner, JoinMode.APPROVAL)
    assert_denied("banned", lambda: join(member, circle, message="please"))
    assert not JoinRequest.objects.filter(circle=circle, user=member).exists()
    assert_denied("already_banned",
                  lambda: circle_actions.do_ban_member(actor=owner, circle=circle, user_id=member.id))

    circle_actions.do_unban_member(actor=moderator, circle=circle, user_id=member.id)
    assert_denied("not_banned", lambda: circle_actions.do_unban_member(actor=moderator, circle=circle,
                                                                        user_id=member.id))
    set_mode(circle, owner, JoinMode.OPEN)
    assert join(member, circle).status == "joined"
    assert_count_consistent(circle)


def test_unbanned_user_can_use_an_invite(circle, admin, moderator, member):
    invite = circle_actions.do_create_invite(actor=admin, circle=circle)
    circle_actions.do_ban_member(actor=moderator, circle=circle, user_id=member.id)
    circle_actions.do_unban_member(actor=moderator, circle=circle, user_id=member.id)
    assert circle_actions.do_accept_invite(user=member, code=invite.code).status == "joined"


def test_ban_rejects_pending_requests_and_ban_user_who_never_joined(circle, owner, moderator, make_user):
    set_mode(circle, owner, JoinMode.APPROVAL)
    applicant = make_user("applicant")
    request = join(applicant, circle).join_request
    stranger = make_user("stranger")
    count = circle.member_count
    circle_actions.do_ban_user(actor=moderator, circle=circle, user=applicant, reason="spam requests")
    request.refresh_from_db()
    assert request.status == JoinRequestStatus.REJECTED
    circle_actions.do_ban_user(actor=moderator, circle=circle, user=stranger, reason="known spammer")
    assert Membership.objects.get(circle=circle, user=stranger).status == MembershipStatus.BANNED
    circle.refresh_from_db()
    assert circle.member_count == count  # banning non-members does not touch the count
    assert_denied("banned", lambda: join(stranger, circle))


def test_kicked_user_can_rejoin(circle, moderator, member):
    circle_actions.do_kick_member(actor=moderator, circle=circle, user_id=member.id)
    assert_count_consistent(circle)
    assert join(member, circle).status == "joined"
    assert DomainEvent.objects.filter(type="member.joined", target_user=member).latest("id").data["rejoin"] is True
    assert_count_consistent(circle)


def test_leave_and_owner_cannot_leave(circle, owner, member):
    circle.refresh_from_db()
    count = circle.member_count
    circle_actions.do_leave_circle(user=member, circle=circle)
    membership = Membership.objects.get(circle=circle, user=member)
    assert membership.status == MembershipStatus.LEFT and membership.left_at is not None
    assert not GroupMember.objects.filter(group__circle=circle, user=member).exists()
    circle.refresh_from_db()
    assert circle.member_count == count - 1
    assert DomainEvent.objects.filter(type="member.left", actor=member, target_user=member).count() == 1
    assert_denied("not_member", lambda: circle_actions.do_leave_circle(user=member, circle=circle))
    assert_denied("owner_cannot_leave", lambda: circle_actions.do_leave_circle(user=owner, circle=circle))


def test_rejoin_resets_role_mute_and_channel_follow(circle, owner, moderator):
    circle_actions.do_mute_member(actor=owner, circle=circle, user_id=moderator.id, minutes=60)
    circle_actions.do_set_channel_follow(user=moderator, circle=circle, follow=True)
    circle_actions.do_leave_circle(user=moderator, circle=circle)
    # Even a row left with a role and a mute (older data) comes back as a plain member.
    Membership.objects.filter(circle=circle, user=moderator).update(
        role=Role.ADMIN, muted_until=timezone.now() + timedelta(days=3), mute_reason="old"
    )
    join(moderator, circle)
    m = Membership.objects.get(circle=circle, user=moderator)
    assert (m.role, m.muted_until, m.mute_reason, m.follows_channel, m.onboarding_done) == (
        Role.MEMBER, None, "", False, False,
    )


def test_kick_clears_mute_and_role(circle, owner, moderator):
    circle_actions.do_mute_member(actor=owner, circle=circle, user_id=moderator.id, minutes=60)
    circle_actions.do_kick_member(actor=owner, circle=circle, user_id=moderator.id)
    m = Membership.objects.get(circle=circle, user=moderator)
    assert (m.status, m.role, m.muted_until) == (MembershipStatus.KICKED, Role.MEMBER, None)


@pytest.mark.parametrize(("kwargs", "code"), [
    ({"minutes": 0}, "invalid_duration"),
    ({"minutes": -5}, "invalid_duration"),
    ({"minutes": 366 * 24 * 60}, "invalid_duration"),
    ({"minutes": True}, "invalid_duration"),
    ({}, "invalid_duration"),
])
def test_invalid_mute_durations(circle, moderator, member, kwargs, code):
    assert_denied(code, lambda: circle_actions.do_mute_member(actor=moderator, circle=circle, user_id=member.id,
                                                               **kwargs))


def test_actions_on_non_members(circle, owner, outsider):
    for action in (circle_actions.do_kick_member, circle_actions.do_mute_member, circle_actions.do_set_role):
        extra = {"minutes": 5} if action is circle_actions.do_mute_member else {}
        if action is circle_actions.do_set_role:
            extra = {"role": "moderator"}
        assert_denied("member_not_found", lambda a=action, e=extra: a(actor=owner, circle=circle,
                                                                      user_id=outsider.id, **e))
    assert_denied("invalid_role", lambda: circle_actions.do_set_role(actor=owner, circle=circle,
                                                                      user_id=owner.id, role="emperor"))


# --- circle settings ----------------------------------------------------------------------


@pytest.mark.parametrize(("fields", "code"), [
    ({"name": ""}, "invalid_name"),
    ({"name": "x" * 81}, "invalid_name"),
    ({"timezone": "Mars/Olympus"}, "invalid_timezone"),
    ({"language": "xx"}, "invalid_language"),
    ({"join_mode": "whenever"}, "invalid_join_mode"),
    ({"visibility": "secret"}, "invalid_visibility"),
    ({"description": "d" * 2001}, "invalid_description"),
])
def test_invalid_circle_settings(circle, owner, fields, code):
    assert_denied(code, lambda: circle_actions.do_update_circle(actor=owner, circle=circle, **fields))


def test_unchanged_settings_write_nothing(circle, owner):
    before = AuditEntry.objects.count(), DomainEvent.objects.count()
    circle_actions.do_update_circle(actor=owner, circle=circle, name=circle.name)
    assert (AuditEntry.objects.count(), DomainEvent.objects.count()) == before


# --- the announcement channel -------------------------------------------------------------


def test_follow_unfollow_and_follow_rate(circle, owner, admin, member, make_user):
    extra = make_user("extra")
    join(extra, circle)
    # Owner follows from creation; admin, member and extra do not.
    stats = channel_follow_stats(circle)
    assert (stats.followers, stats.active_members, stats.percent) == (1, 4, 25)

    circle_actions.do_set_channel_follow(user=member, circle=circle, follow=True)
    circle_actions.do_set_channel_follow(user=member, circle=circle, follow=True)  # idempotent, no second event
    circle_actions.do_set_channel_follow(user=extra, circle=circle, follow=True)
    m = Membership.objects.get(circle=circle, user=member)
    assert m.follows_channel and m.onboarding_done
    assert DomainEvent.objects.filter(type="channel.followed", actor=member).count() == 1
    stats = channel_follow_stats(circle)
    assert (stats.followers, stats.active_members, stats.rate) == (3, 4, 0.75)

    circle_actions.do_set_channel_follow(user=extra, circle=circle, follow=False)
    assert DomainEvent.objects.filter(type="channel.unfollowed", actor=extra).count() == 1
    circle_actions.do_leave_circle(user=member, circle=circle)  # a follower who left no longer counts
    stats = channel_follow_stats(circle)
    assert (stats.followers, stats.active_members) == (1, 3)


def test_follow_needs_membership_and_a_channel(circle, owner, outsider, make_user):
    assert_denied("circle_not_found",
                  lambda: circle_actions.do_set_channel_follow(user=outsider, circle=circle, follow=True))
    plain = circle_actions.do_create_circle(owner=make_user("plain_owner"), name="No channel")
    join(outsider, plain)
    assert_denied("no_channel", lambda: circle_actions.do_set_channel_follow(user=outsider, circle=plain, follow=True))
    assert channel_follow_stats(plain) is None


def test_channel_post_notifies_followers_only(circle, owner, admin, member, make_user,
                                              django_capture_on_commit_callbacks):
    quiet = make_user("quiet")
    join(quiet, circle)
    circle_actions.do_set_channel_follow(user=member, circle=circle, follow=True)
    circle_actions.do_set_channel_follow(user=admin, circle=circle, follow=True)
    with django_capture_on_commit_callbacks(execute=True):
        post = chat_actions.do_send_message(sender=admin, group=circle.channel_group, body="Race on Sunday!")
    noticed = set(Notice.objects.filter(message=post, kind=NoticeKind.CHANNEL_POST).values_list("user_id", flat=True))
    # Followers (owner from creation, member) but not the author and not the non-follower.
    assert noticed == {owner.id, member.id}
    assert "Race on Sunday!" in Notice.objects.filter(message=post).first().text


def test_members_cannot_post_in_the_channel(circle, moderator, member):
    for user in (member, moderator):
        assert_denied("channel_admins_only",
                      lambda u=user: chat_actions.do_send_message(sender=u, group=circle.channel_group, body="hi"))
