"""Search test helpers: content created through the real actions, with after-commit signals run."""

from __future__ import annotations

import pytest

from quanzi.chat import actions as chat_actions
from quanzi.chat import dms
from quanzi.chat.models import Group


@pytest.fixture
def send(django_capture_on_commit_callbacks, circle, owner):
    """``send(user, group, body)``: a chat message through do_send_message, its on-commit listeners run.

    Screening is off in the test circle: these tests are about search, and the spam model's opinion of
    filler texts ("Running Club 2026") must not decide whether a message is indexed (tests/moderation
    covers held content; test_held_messages_are_not_indexed_and_not_shown sets the state directly).
    """
    from quanzi.moderation import actions as moderation_actions

    moderation_actions.do_update_policy(actor=owner, circle=circle, enabled=False, flood_messages=0)

    def do(user, group, body):
        with django_capture_on_commit_callbacks(execute=True):
            return chat_actions.do_send_message(sender=user, group=group, body=body)

    return do


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks):
    """A context manager that runs the on-commit callbacks registered inside it."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def make_dm(circle):
    def make(a, b) -> Group:
        return dms.do_start_dm(actor=a, circle=circle, user_id=b.id)

    return make
