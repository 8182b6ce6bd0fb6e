"""Role × action matrix for every management action, at the service layer.

The expected outcome of every cell is written out below by hand from the rule
"no one acts on an equal or higher role except the owner" and the table in
``quanzi.circles.rules`` — never computed from the code under test. A cell is either
``OK`` (the action happens), ``NOOP`` (allowed, but there is nothing to change),
``OWN`` (the actor's own message: an author delete, no audit row), or the error code.

A refused cell proves the code *and* that not a single row changed (no audit entry,
no domain event, same state). An allowed cell proves the state change, the audit row
(actor, action, target, reason) and the domain event row (type, circle, actor,
target, day in the circle's time zone).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from quanzi.chat import actions as chat_actions
from quanzi.chat.models import Group, GroupKind, GroupMember, Message, Notice, NoticeKind
from quanzi.circles import actions as circle_actions
from quanzi.circles import rules
from quanzi.circles.models import Invite, JoinRequest, JoinRequestStatus, Membership, MembershipStatus, Role

from .conftest import ACTORS, TARGET_ROLES
from .helpers import assert_audit, assert_denied, assert_event, run_allowed, snapshot

OK, NOOP, OWN = "OK", "NOOP", "OWN"
SELF, HIGHER, INSUFFICIENT, NOT_MEMBER = "self_action", "higher_role", "insufficient_role", "not_member"
REASON = "matrix reason"

# --- the tables ---------------------------------------------------------------------------

# mute / unmute / kick / ban: moderator and up, only on a strictly lower role; the owner on anyone but themself.
#                    target:  owner         admin         moderator     member
ACT_ON_LOWER = {
    "owner":        (SELF,         OK,           OK,           OK),
    "admin":        (HIGHER,       HIGHER,       OK,           OK),
    "moderator":    (HIGHER,       HIGHER,       HIGHER,       OK),
    "member":       (INSUFFICIENT, INSUFFICIENT, INSUFFICIENT, INSUFFICIENT),
    "muted":        (INSUFFICIENT, INSUFFICIENT, INSUFFICIENT, INSUFFICIENT),
    "banned":       (NOT_MEMBER,   NOT_MEMBER,   NOT_MEMBER,   NOT_MEMBER),
    "outsider":     (NOT_MEMBER,   NOT_MEMBER,   NOT_MEMBER,   NOT_MEMBER),
    "other_circle": (NOT_MEMBER,   NOT_MEMBER,   NOT_MEMBER,   NOT_MEMBER),
}

# set role: admin and up, on a strictly lower role, and only to a role below the actor's own
# (the owner appoints anything below owner); "owner" is never set, it is transferred.
_NO_MOD = (INSUFFICIENT,) * 4
_OUT = (NOT_MEMBER,) * 4
SET_ROLE = {
    #                     target:  owner   admin   moderator  member
    "admin": {
        "owner":        (SELF,   NOOP,   OK,      OK),
        "admin":        (HIGHER, HIGHER, HIGHER,  HIGHER),
        "moderator":    _NO_MOD,
        "member": _NO_MOD, "muted": _NO_MOD, "banned": _OUT, "outsider": _OUT, "other_circle": _OUT,
    },
    "moderator": {
        "owner":        (SELF,   OK,     NOOP,    OK),
        "admin":        (HIGHER, HIGHER, NOOP,    OK),
        "moderator":    _NO_MOD,
        "member": _NO_MOD, "muted": _NO_MOD, "banned": _OUT, "outsider": _OUT, "other_circle": _OUT,
    },
    "member": {
        "owner":        (SELF,   OK,     OK,      NOOP),
        "admin":        (HIGHER, HIGHER, OK,      NOOP),
        "moderator":    _NO_MOD,
        "member": _NO_MOD, "muted": _NO_MOD, "banned": _OUT, "outsider": _OUT, "other_circle": _OUT,
    },
    "owner": {
        "owner":        (SELF,   "use_transfer", "use_transfer", "use_transfer"),
        "admin":        (HIGHER, HIGHER,         "use_transfer", "use_transfer"),
        "moderator":    _NO_MOD,
        "member": _NO_MOD, "muted": _NO_MOD, "banned": _OUT, "outsider": _OUT, "other_circle": _OUT,
    },
}

# transfer ownership: the owner only, to another active member.
TRANSFER = {
    "owner": (SELF, OK, OK, OK),
    "admin": _NO_MOD, "moderator": _NO_MOD, "member": _NO_MOD, "muted": _NO_MOD,
    "banned": _OUT, "outsider": _OUT, "other_circle": _OUT,
}

# delete someone's message (target = the author's role): moderators delete messages of lower roles at any
# time, the owner anyone's; members only their own.
DELETE_MESSAGE = {
    "owner":        (OWN,          OK,           OK,           OK),
    "admin":        (HIGHER,       HIGHER,       OK,           OK),
    "moderator":    (HIGHER,       HIGHER,       HIGHER,       OK),
    "member":       ("not_author",) * 4,
    "muted":        ("not_author",) * 4,
    "banned":       ("message_not_found",) * 4,
    "outsider":     ("message_not_found",) * 4,
    "other_circle": ("message_not_found",) * 4,
}

# Actions without a target member.
ADMIN_ONLY = {
    "owner": OK, "admin": OK, "moderator": INSUFFICIENT, "member": INSUFFICIENT, "muted": INSUFFICIENT,
    "banned": NOT_MEMBER, "outsider": NOT_MEMBER, "other_circle": NOT_MEMBER,
}
MODERATOR_UP = {
    "owner": OK, "admin": OK, "moderator": OK, "member": INSUFFICIENT, "muted": INSUFFICIENT,
    "banned": NOT_MEMBER, "outsider": NOT_MEMBER, "other_circle": NOT_MEMBER,
}
UPDATE_CIRCLE = ADMIN_ONLY
CREATE_INVITE = ADMIN_ONLY
REVOKE_INVITE = ADMIN_ONLY
READ_AUDIT = ADMIN_ONLY
CREATE_GROUP = ADMIN_ONLY
GROUP_NAME = ADMIN_ONLY
GROUP_MUTE_ALL = MODERATOR_UP
GROUP_SLOW_MODE = MODERATOR_UP
UNBAN = MODERATOR_UP
# Non-members get "no such object" where the object is looked up first (ids can't be probed).
DECIDE_JOIN_REQUEST = {
    "owner": OK, "admin": OK, "moderator": OK, "member": INSUFFICIENT, "muted": INSUFFICIENT,
    "banned": "join_request_not_found", "outsider": "join_request_not_found",
    "other_circle": "join_request_not_found",
}
PIN = {
    "owner": OK, "admin": OK, "moderator": OK, "member": INSUFFICIENT, "muted": INSUFFICIENT,
    "banned": "message_not_found", "outsider": "message_not_found", "other_circle": "message_not_found",
}
# @all: admins and the owner; a muted member is stopped by the mute before the @all rule.
MENTION_ALL = {
    "owner": OK, "admin": OK, "moderator": "mention_all_forbidden", "member": "mention_all_forbidden",
    "muted": "muted", "banned": "group_not_found", "outsider": "group_not_found", "other_circle": "group_not_found",
}

def _pairs(table):
    return [
        pytest.param(actor, role, expected, id=f"{actor}-on-{role}")
        for actor, row in table.items()
        for role, expected in zip(TARGET_ROLES, row, strict=True)
    ]


def _singles(table):
    return [pytest.param(actor, expected, id=actor) for actor, expected in table.items()]


def test_tables_cover_every_actor():
    for table in (ACT_ON_LOWER, TRANSFER, DELETE_MESSAGE, *SET_ROLE.values(), ADMIN_ONLY, MODERATOR_UP,
                  DECIDE_JOIN_REQUEST, PIN, MENTION_ALL):
        assert tuple(table) == ACTORS


# --- member-targeted actions --------------------------------------------------------------


@pytest.mark.parametrize(
    ("new_role", "actor_key", "target_role", "expected"),
    [
        pytest.param(new_role, *p.values, id=f"to_{new_role}-{p.id}")
        for new_role, table in SET_ROLE.items()
        for p in _pairs(table)
    ],
)
def test_set_role(world, new_role, actor_key, target_role, expected):
    actor, target = world.actor(actor_key), world.target(target_role)
    old_role = world.membership(target).role

    def act():
        return circle_actions.do_set_role(actor=actor, circle=world.circle, user_id=target.id, role=new_role,
                                          reason=REASON)

    if expected == NOOP:
        assert old_role == new_role
        assert_denied_nothing_written(act)
        return
    if expected != OK:
        assert_denied(expected, act)
        return
    written = run_allowed(world, act)
    assert world.membership(target).role == new_role
    entry = assert_audit(written, world, actor=actor, action="member.set_role", target_user=target, reason=REASON)
    assert entry.data == {"from": old_role, "to": new_role}
    assert_event(written, world, "member.role_changed", actor=actor, target_user=target)


def assert_denied_nothing_written(act):
    """A no-op is allowed (no error) but must write nothing either."""
    before = snapshot()
    act()
    assert snapshot() == before


@pytest.mark.parametrize(("actor_key", "target_role", "expected"), _pairs(ACT_ON_LOWER))
def test_mute(world, actor_key, target_role, expected):
    actor, target = world.actor(actor_key), world.target(target_role)

    def act():
        return circle_actions.do_mute_member(actor=actor, circle=world.circle, user_id=target.id, minutes=30,
                                             reason=REASON)

    if expected != OK:
        assert_denied(expected, act)
        return
    written = run_allowed(world, act)
    membership = world.membership(target)
    assert membership.is_muted()
    assert timedelta(minutes=29) < membership.muted_until - timezone.now() <= timedelta(minutes=30)
    assert membership.mute_reason == REASON
    assert_audit(written, world, actor=actor, action="member.mute", target_user=target, reason=REASON)
    assert_event(written, world, "member.muted", actor=actor, target_user=target)


@pytest.mark.parametrize(("actor_key", "target_role", "expected"), _pairs(ACT_ON_LOWER))
def test_unmute(world, actor_key, target_role, expected):
    actor, target = world.actor(actor_key), world.target(target_role)
    Membership.objects.filter(circle=world.circle, user=target).update(
        muted_until=timezone.now() + timedelta(hours=1), mute_reason="earlier"
    )

    def act():
        return circle_actions.do_unmute_member(actor=actor, circle=world.circle, user_id=target.id, reason=REASON)

    if expected != OK:
        assert_denied(expected, act)
        return
    written = run_allowed(world, act)
    membership = world.membership(target)
    assert membership.muted_until is None and membership.mute_reason == ""
    assert_audit(written, world, actor=actor, action="member.unmute", target_user=target, reason=REASON)
    assert_event(written, world, "member.unmuted", actor=actor, target_user=target)


def _assert_removed(world, target, status: str, count_before: int) -> None:
    membership = world.membership(target)
    assert membership.status == status
    assert membership.role == Role.MEMBER
    assert membership.left_at is not None
    assert world.refresh().member_count == count_before - 1
    assert not GroupMember.objects.filter(group__circle=world.circle, user=target).exists()


@pytest.mark.parametrize(("actor_key", "target_role", "expected"), _pairs(ACT_ON_LOWER))
def test_kick(world, actor_key, target_role, expected):
    actor, target = world.actor(actor_key), world.target(target_role)

    def act():
        return circle_actions.do_kick_member(actor=actor, circle=world.circle, user_id=target.id, reason=REASON)

    if expected != OK:
        assert_denied(expected, act)
        return
    count = world.circle.member_count
    written = run_allowed(world, act)
    _assert_removed(world, target, MembershipStatus.KICKED, count)
    assert_audit(written, world, actor=actor, action="member.kick", target_user=target, reason=REASON)
    assert_event(written, world, "member.kicked", actor=actor, target_user=target)


@pytest.mark.parametrize(("actor_key", "target_role", "expected"), _pairs(ACT_ON_LOWER))
def test_ban(world, actor_key, target_role, expected):
    actor, target = world.actor(actor_key), world.target(target_role)

    def act():
        return circle_actions.do_ban_member(actor=actor, circle=world.circle, user_id=target.id, reason=REASON)

    if expected != OK:
        assert_denied(expected, act)
        return
    count = world.circle.member_count
    written = run_allowed(world, act)
    _assert_removed(world, target, MembershipStatus.BANNED, count)
    assert_audit(written, world, actor=actor, action="member.ban", target_user=target, reason=REASON)
    event = assert_event(written, world, "member.banned", actor=actor, target_user=target)
    assert event.data["was_active"] is True


@pytest.mark.parametrize(("actor_key", "expected"), _singles(UNBAN))
def test_unban(world, actor_key, expected):
    actor, target = world.actor(actor_key), world.users["t_banned"]

    def act():
        return circle_actions.do_unban_member(actor=actor, circle=world.circle, user_id=target.id, reason=REASON)

    if expected != OK:
        assert_denied(expected, act)
        return
    count = world.circle.member_count
    written = run_allowed(world, act)
    assert world.membership(target).status == MembershipStatus.LEFT
    assert world.refresh().member_count == count  # unbanning does not make them a member again
    assert_audit(written, world, actor=actor, action="member.unban", target_user=target, reason=REASON)
    assert_event(written, world, "member.unbanned", actor=actor, target_user=target)


@pytest.mark.parametrize(("actor_key", "target_role", "expected"), _pairs(TRANSFER))
def test_transfer_ownership(world, actor_key, target_role, expected):
    actor, target = world.actor(actor_key), world.target(target_role)

    def act():
        return circle_actions.do_transfer_ownership(actor=actor, circle=world.circle, user_id=target.id,
                                                    reason=REASON)

    if expected != OK:
        assert_denied(expected, act)
        return
    old_role = world.membership(target).role
    written = run_allowed(world, act)
    assert world.membership(target).role == Role.OWNER
    assert world.membership(actor).role == Role.ADMIN
    assert Membership.objects.filter(circle=world.circle, role=Role.OWNER).count() == 1
    entry = assert_audit(written, world, actor=actor, action="circle.transfer_ownership", target_user=target,
                         reason=REASON)
    assert entry.data == {"previous_role": old_role}
    assert_event(written, world, "circle.ownership_transferred", actor=actor, target_user=target)


# --- circle-level actions -----------------------------------------------------------------


@pytest.mark.parametrize(("actor_key", "expected"), _singles(UPDATE_CIRCLE))
def test_update_circle(world, actor_key, expected):
    actor = world.actor(actor_key)

    def act():
        return circle_actions.do_update_circle(actor=actor, circle=world.circle, name="Renamed",
                                               description="New description")

    if expected != OK:
        assert_denied(expected, act)
        return
    written = run_allowed(world, act)
    circle = world.refresh()
    assert (circle.name, circle.description) == ("Renamed", "New description")
    entry = assert_audit(written, world, actor=actor, action="circle.update", target_repr="Renamed")
    assert entry.data == {"fields": ["description", "name"]}
    assert_event(written, world, "circle.updated", actor=actor)


@pytest.mark.parametrize(("actor_key", "expected"), _singles(CREATE_INVITE))
def test_create_invite(world, actor_key, expected):
    actor = world.actor(actor_key)

    def act():
        return circle_actions.do_create_invite(actor=actor, circle=world.circle, expires_in_hours=24, max_uses=5)

    if expected != OK:
        assert_denied(expected, act)
        return
    written = run_allowed(world, act)
    invite = Invite.objects.get(circle=world.circle)
    assert (invite.created_by_id, invite.max_uses, invite.uses) == (actor.id, 5, 0)
    assert invite.usable_reason() is None
    assert_audit(written, world, actor=actor, action="invite.create", target_repr=invite.code)
    event = assert_event(written, world, "invite.created", actor=actor)
    assert event.data == {"invite_id": invite.id}


@pytest.mark.parametrize(("actor_key", "expected"), _singles(REVOKE_INVITE))
def test_revoke_invite(world, actor_key, expected):
    actor = world.actor(actor_key)
    invite = Invite.objects.create(circle=world.circle, created_by=world.users["owner"])

    def act():
        return circle_actions.do_revoke_invite(actor=actor, circle=world.circle, invite_id=invite.id)

    if expected != OK:
        assert_denied(expected, act)
        return
    written = run_allowed(world, act)
    invite.refresh_from_db()
    assert invite.revoked_at is not None and invite.usable_reason() == "invite_revoked"
    assert_audit(written, world, actor=actor, action="invite.revoke", target_repr=invite.code)
    assert_event(written, world, "invite.revoked", actor=actor)


@pytest.mark.parametrize("approve", [True, False], ids=["approve", "reject"])
@pytest.mark.parametrize(("actor_key", "expected"), _singles(DECIDE_JOIN_REQUEST))
def test_decide_join_request(world, make_user, approve, actor_key, expected):
    actor = world.actor(actor_key)
    applicant = make_user("applicant")
    request = JoinRequest.objects.create(circle=world.circle, user=applicant, message="please")

    def act():
        return circle_actions.do_decide_join_request(actor=actor, request_id=request.id, approve=approve,
                                                     reason=REASON)

    if expected != OK:
        assert_denied(expected, act)
        return
    count = world.circle.member_count
    written = run_allowed(world, act)
    request.refresh_from_db()
    assert request.decided_by_id == actor.id and request.decided_at is not None
    membership = world.membership(applicant)
    if approve:
        assert request.status == JoinRequestStatus.APPROVED
        assert membership.status == MembershipStatus.ACTIVE and membership.role == Role.MEMBER
        assert world.refresh().member_count == count + 1
        assert Notice.objects.filter(user=applicant, kind=NoticeKind.WELCOME).count() == 1
        assert_audit(written, world, actor=actor, action="join_request.approve", target_user=applicant, reason=REASON)
        assert_event(written, world, "join_request.approved", actor=actor, target_user=applicant)
        assert_event(written, world, "member.joined", actor=applicant, target_user=applicant)
    else:
        assert request.status == JoinRequestStatus.REJECTED
        assert membership is None
        assert Notice.objects.filter(user=applicant, kind=NoticeKind.JOIN_REQUEST).count() == 1
        assert_audit(written, world, actor=actor, action="join_request.reject", target_user=applicant, reason=REASON)
        assert_event(written, world, "join_request.rejected", actor=actor, target_user=applicant)


@pytest.mark.parametrize(("actor_key", "expected"), _singles(READ_AUDIT))
def test_read_audit(world, actor_key, expected):
    membership = world.membership(world.actor(actor_key))

    def act():
        rules.check_read_audit(membership)

    if expected != OK:
        assert_denied(expected, act)
    else:
        assert_denied_nothing_written(act)


# --- groups and messages ------------------------------------------------------------------


@pytest.mark.parametrize(("actor_key", "expected"), _singles(CREATE_GROUP))
def test_create_group(world, actor_key, expected):
    actor = world.actor(actor_key)

    def act():
        return chat_actions.do_create_group(actor=actor, circle=world.circle, name="Trail talk", topic="Routes")

    if expected != OK:
        assert_denied(expected, act)
        return
    written = run_allowed(world, act)
    group = Group.objects.get(circle=world.circle, name="Trail talk")
    assert (group.kind, group.topic, group.created_by_id) == (GroupKind.GROUP, "Routes", actor.id)
    assert GroupMember.objects.filter(group=group, user=actor).exists()
    entry = assert_audit(written, world, actor=actor, action="group.create", target_repr="Trail talk")
    assert entry.data == {"group_id": group.id}
    assert_event(written, world, "group.created", actor=actor, group_id=group.id)


GROUP_UPDATES = {
    "mute_all": ({"mute_all": True}, GROUP_MUTE_ALL),
    "slow_mode": ({"slow_mode_seconds": 30}, GROUP_SLOW_MODE),
    "name": ({"name": "Town square"}, GROUP_NAME),
}


@pytest.mark.parametrize(
    ("change", "actor_key", "expected"),
    [
        pytest.param(change, actor, expected, id=f"{change}-{actor}")
        for change, (_kwargs, table) in GROUP_UPDATES.items()
        for actor, expected in table.items()
    ],
)
def test_update_group(world, change, actor_key, expected):
    actor, group = world.actor(actor_key), world.circle.main_group
    kwargs = GROUP_UPDATES[change][0]

    def act():
        return chat_actions.do_update_group(actor=actor, group=group, reason=REASON, **kwargs)

    if expected != OK:
        assert_denied(expected, act)
        return
    written = run_allowed(world, act)
    group.refresh_from_db()
    for key, value in kwargs.items():
        assert getattr(group, key) == value
    entry = assert_audit(written, world, actor=actor, action="group.update", target_repr=group.name, reason=REASON)
    assert entry.data == {"group_id": group.id, "changes": kwargs}
    assert_event(written, world, "group.updated", actor=actor, group_id=group.id)


def _post(world, author) -> Message:
    return Message.objects.create(group=world.circle.main_group, author=author, body="hello", body_html="<p>hello</p>")


@pytest.mark.parametrize(("actor_key", "expected"), _singles(PIN))
def test_pin(world, actor_key, expected):
    actor, author = world.actor(actor_key), world.users["t_member"]
    message = _post(world, author)

    def act():
        return chat_actions.do_set_pinned(actor=actor, message_id=message.id, pinned=True)

    if expected != OK:
        assert_denied(expected, act)
        return
    written = run_allowed(world, act)
    message.refresh_from_db()
    assert message.pinned_at is not None and message.pinned_by_id == actor.id
    assert_audit(written, world, actor=actor, action="message.pin", target_user=author,
                 target_repr=f"message #{message.id}")
    assert_event(written, world, "message.pinned", actor=actor, group_id=message.group_id)


@pytest.mark.parametrize(("actor_key", "target_role", "expected"), _pairs(DELETE_MESSAGE))
def test_delete_message_of_role(world, actor_key, target_role, expected):
    actor, author = world.actor(actor_key), world.target(target_role)
    message = _post(world, author)
    # Long past the author's edit window: only moderation rights count (or authorship, for OWN).
    if expected != OWN:
        Message.objects.filter(id=message.id).update(created_at=timezone.now() - timedelta(days=2))

    def act():
        return chat_actions.do_delete_message(actor=actor, message_id=message.id, reason=REASON)

    if expected not in (OK, OWN):
        assert_denied(expected, act)
        return
    written = run_allowed(world, act)
    message.refresh_from_db()
    assert message.deleted_at is not None and message.deleted_by_id == actor.id
    assert message.body == "" and message.body_html == ""
    if expected == OWN:
        assert written.audit == []  # deleting one's own message is not a moderation action
    else:
        entry = assert_audit(written, world, actor=actor, action="message.delete", target_user=author, reason=REASON)
        assert entry.data["body"] == "hello"  # the moderator's audit trail keeps what was removed
    event = assert_event(written, world, "message.deleted", actor=actor, group_id=message.group_id)
    assert event.data == {"message_id": message.id, "by_moderator": expected == OK}


@pytest.mark.parametrize(("actor_key", "expected"), _singles(MENTION_ALL))
def test_mention_all(world, actor_key, expected, django_capture_on_commit_callbacks):
    actor, group = world.actor(actor_key), world.circle.main_group

    def act():
        with django_capture_on_commit_callbacks(execute=True):
            return chat_actions.do_send_message(sender=actor, group=group, body="@all meeting at 7")

    if expected != OK:
        assert_denied(expected, act)
        return
    written = run_allowed(world, act)
    message = written.result
    assert message.mentions_all and "mention-all" in message.body_html
    assert written.audit == []
    assert_event(written, world, "message.new", actor=actor, group_id=group.id)
    seated = set(GroupMember.objects.filter(group=group).exclude(user=actor).values_list("user_id", flat=True))
    noticed = set(Notice.objects.filter(message=message, kind=NoticeKind.MENTION).values_list("user_id", flat=True))
    assert noticed == seated and seated
