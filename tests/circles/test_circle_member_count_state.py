"""member_count stays equal to the number of active memberships, whatever the order of
joins, leaves, kicks, bans and unbans (a Hypothesis state machine against a tiny model)."""

from __future__ import annotations

from collections import Counter

import pytest
from django.db import transaction
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from hypothesis.strategies import integers, sampled_from

from quanzi.accounts.models import User
from quanzi.chat.models import GroupMember
from quanzi.circles import actions as circle_actions
from quanzi.circles.models import Circle, JoinMode, Membership
from quanzi.core.errors import QuanziError

PEOPLE = 4
NONE, ACTIVE, LEFT, KICKED, BANNED = "none", "active", "left", "kicked", "banned"


class MemberCountMachine(RuleBasedStateMachine):
    """Each example runs in a savepoint that is rolled back at teardown, so examples don't mix."""

    def __init__(self) -> None:
        super().__init__()
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self.owner = User.objects.create(username="sm_owner")
        self.circle = circle_actions.do_create_circle(owner=self.owner, name="State", slug="state",
                                                      with_channel=True)
        self.invite = circle_actions.do_create_invite(actor=self.owner, circle=self.circle)
        self.people = [User.objects.create(username=f"sm_{i}") for i in range(PEOPLE)]
        self.model = {p.id: NONE for p in self.people}
        self.mode = JoinMode.OPEN

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    def _attempt(self, action, expected_error: str | None) -> None:
        if expected_error is None:
            action()
            return
        with pytest.raises(QuanziError) as caught:
            action()
        assert caught.value.code == expected_error

    @rule(i=integers(0, PEOPLE - 1), with_invite=sampled_from([False, True]))
    def join(self, i: int, with_invite: bool) -> None:
        person = self.people[i]
        state = self.model[person.id]
        expected = {ACTIVE: "already_member", BANNED: "banned"}.get(state)
        if expected is None and self.mode == JoinMode.INVITE and not with_invite:
            expected = "invite_required"
        invite = self.invite if with_invite else None
        self._attempt(lambda: circle_actions.do_join_circle(user=person, circle=self.circle, invite=invite), expected)
        if expected is None:
            self.model[person.id] = ACTIVE

    @rule(i=integers(0, PEOPLE - 1))
    def leave(self, i: int) -> None:
        person = self.people[i]
        expected = None if self.model[person.id] == ACTIVE else "not_member"
        self._attempt(lambda: circle_actions.do_leave_circle(user=person, circle=self.circle), expected)
        if expected is None:
            self.model[person.id] = LEFT

    @rule(i=integers(0, PEOPLE - 1))
    def kick(self, i: int) -> None:
        person = self.people[i]
        expected = None if self.model[person.id] == ACTIVE else "member_not_found"
        self._attempt(
            lambda: circle_actions.do_kick_member(actor=self.owner, circle=self.circle, user_id=person.id), expected
        )
        if expected is None:
            self.model[person.id] = KICKED

    @rule(i=integers(0, PEOPLE - 1))
    def ban(self, i: int) -> None:
        person = self.people[i]
        expected = "already_banned" if self.model[person.id] == BANNED else None
        self._attempt(lambda: circle_actions.do_ban_user(actor=self.owner, circle=self.circle, user=person), expected)
        if expected is None:
            self.model[person.id] = BANNED

    @rule(i=integers(0, PEOPLE - 1))
    def unban(self, i: int) -> None:
        person = self.people[i]
        state = self.model[person.id]
        expected = None if state == BANNED else ("member_not_found" if state == NONE else "not_banned")
        self._attempt(
            lambda: circle_actions.do_unban_member(actor=self.owner, circle=self.circle, user_id=person.id), expected
        )
        if expected is None:
            self.model[person.id] = LEFT

    @rule(mode=sampled_from([JoinMode.OPEN, JoinMode.INVITE]))
    def switch_mode(self, mode: str) -> None:
        # Approval mode files requests instead of joining; its flow is tested in test_circle_joining.
        circle_actions.do_update_circle(actor=self.owner, circle=self.circle, join_mode=mode)
        self.mode = mode

    @invariant()
    def member_count_matches(self) -> None:
        count = Circle.objects.filter(id=self.circle.id).values_list("member_count", flat=True).get()
        statuses = dict(Membership.objects.filter(circle=self.circle).values_list("user_id", "status"))
        assert count == sum(s == ACTIVE for s in statuses.values())
        assert {p.id: statuses.get(p.id, NONE) for p in self.people} == self.model
        seated = Counter(
            GroupMember.objects.filter(group__circle=self.circle, user__in=self.people).values_list("user_id",
                                                                                                      flat=True)
        )
        assert {p.id: seated[p.id] for p in self.people} == {
            p.id: 2 if self.model[p.id] == ACTIVE else 0 for p in self.people
        }


@pytest.mark.django_db
def test_member_count_state_machine():
    run_state_machine_as_test(
        MemberCountMachine,
        settings=settings(max_examples=100, stateful_step_count=12, deadline=None, database=None,
                          suppress_health_check=[HealthCheck.too_slow]),
    )
