"""Small fixtures that build a circle with one user per role (pretix/Misago style)."""

from __future__ import annotations

import os

import pytest

from quanzi.accounts.models import User
from quanzi.circles import actions as circle_actions
from quanzi.circles.models import Role
from quanzi.core import events

PASSWORD = "correct-horse-battery-9"


def pytest_configure(config):
    """Parallel workers (pytest-xdist, ``make test`` runs two) each have their own test database and
    real-time channel (process id, worker suffix); give them their own Redis key and channel-layer
    prefix too, so ids that are equal in the two databases never meet in the cache (flood counters,
    cached policies). Subprocesses a worker starts inherit the prefix through the environment."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    from django.conf import settings

    if not worker or not settings.HAS_REDIS:
        return
    from django.test import override_settings

    prefix = f"{os.environ.get('QUANZI_REDIS_PREFIX', 'quanzi')}-{worker}"
    os.environ["QUANZI_REDIS_PREFIX"] = prefix
    caches = {**settings.CACHES, "default": {**settings.CACHES["default"], "KEY_PREFIX": prefix}}
    layer = settings.CHANNEL_LAYERS["default"]
    layers = {**settings.CHANNEL_LAYERS, "default": {**layer, "CONFIG": {**layer["CONFIG"], "prefix": prefix}}}
    override_settings(CACHES=caches, CHANNEL_LAYERS=layers).enable()  # for the whole run of this worker


# Fixtures that give a test the database: a test marked ``db_independent`` (skipped by the PostgreSQL pass
# of make test) must use none of them. pytest-django refuses database access to any other test anyway.
DB_FIXTURES = {"db", "transactional_db", "django_db_reset_sequences", "django_db_serialized_rollback",
               "client", "async_client", "admin_client", "admin_user", "live_server"}


def pytest_collection_modifyitems(config, items):
    # schemathesis 4 names its items "test_x[GET /api/...]" but pytest 9.2 builds the node id from the
    # original name only, so all 125 operations shared one id; pytest-xdist keys tests by id and ran one.
    for item in items:
        prefix = f"{getattr(item, 'originalname', item.name)}["
        if item.name.startswith(prefix) and item.name.endswith("]") and "[" not in item.nodeid:
            item._id = item._id.with_params(item.name[len(prefix):-1])
    wrong = [item.nodeid for item in items if item.get_closest_marker("db_independent")
             and (item.get_closest_marker("django_db") or DB_FIXTURES & set(getattr(item, "fixturenames", ())))]
    if wrong:
        raise pytest.UsageError("marked db_independent but using the database:\n  " + "\n  ".join(wrong))


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
