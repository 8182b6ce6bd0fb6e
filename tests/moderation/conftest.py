"""Fixtures for moderation tests: a private cache per test, an aged member, API clients."""

from __future__ import annotations

from datetime import timedelta

import pytest
from api.helpers import ApiClient
from django.core.cache import cache
from django.utils import timezone, translation

from quanzi.chat import actions as chat_actions
from quanzi.chat.models import Group
from quanzi.circles.models import Membership

AD_ZH = "兼职刷单日结，加我微信 sx111505，月入过万，名额有限"
AD_EN = "Earn $500 a day from home! Join my telegram @cryptosignalz for 100% profit signals, DM me now"
NORMAL = "周六的集体跑还在老地方吗？ Saturday run at the usual place?"


@pytest.fixture(autouse=True)
def _private_cache(settings, request):
    """Flood counters, fingerprints and policies live in the cache: one of its own per test."""
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": request.node.nodeid}
    }
    cache.clear()


@pytest.fixture(autouse=True)
def _reset_thread_locale():
    yield
    translation.deactivate()
    timezone.deactivate()


@pytest.fixture
def api_as(db):
    return lambda user=None: ApiClient(user)


@pytest.fixture
def main(circle) -> Group:
    return Group.objects.get(id=circle.main_group_id)


def age(circle, user, *, days: float) -> None:
    """Pretend ``user`` joined ``days`` ago (trust levels are earned with time)."""
    Membership.objects.filter(circle=circle, user=user).update(joined_at=timezone.now() - timedelta(days=days))


@pytest.fixture
def veteran(circle, make_user):
    """A plain member who joined two days ago: basic trust (links allowed)."""
    from quanzi.circles import actions as circle_actions

    user = make_user("veteran")
    circle_actions.do_join_circle(user=user, circle=circle)
    age(circle, user, days=2)
    return user


def send(user, group, body: str, **kw):
    return chat_actions.do_send_message(sender=user, group=group, body=body, **kw)
