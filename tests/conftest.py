"""Small fixtures that build a circle with one user per role (pretix/Misago style)."""

from __future__ import annotations

import pytest

from quanzi.accounts.models import User
from quanzi.circles import actions as circle_actions
from quanzi.circles.models import Role
from quanzi.core import events

PASSWORD = "correct-horse-battery-9"


@pytest.fixture
def make_user(db):
    counter = {"n": 0}

    def make(username: str | None = None, **extra) -> User:
        counter["n"] += 1
        username = username or f"user{counter['n']}"
        return User.objects.create_user(username=username, email=f"{username}@example.com", password=PASSWORD, **extra)

    return make


@pytest.fixture
def owner(make_user):
    return make_user("owner")


@pytest.fixture
def circle(owner):
    return circle_actions.do_create_circle(
        owner=owner, name="Morning Runners", slug="runners", rules_text="Be kind.", with_channel=True
    )


def _join_with_role(circle, user, role, owner):
    circle_actions.do_join_circle(user=user, circle=circle)
    if role != Role.MEMBER:
        circle_actions.do_set_role(actor=owner, circle=circle, user_id=user.id, role=role)
    return user


@pytest.fixture
def admin(circle, owner, make_user):
    return _join_with_role(circle, make_user("admin"), Role.ADMIN, owner)


@pytest.fixture
def moderator(circle, owner, make_user):
    return _join_with_role(circle, make_user("moderator"), Role.MODERATOR, owner)


@pytest.fixture
def member(circle, owner, make_user):
    return _join_with_role(circle, make_user("member"), Role.MEMBER, owner)


@pytest.fixture
def outsider(make_user):
    return make_user("outsider")


@pytest.fixture
def captured_events():
    """Events published after commit, in order (tests run in a transaction: use
    ``django_capture_on_commit_callbacks(execute=True)`` or transactional tests)."""
    seen: list[events.Event] = []
    events.add_listener(seen.append)
    yield seen
    events.remove_listener(seen.append)
