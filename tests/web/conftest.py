"""Fixtures for the web UI tests: logged-in clients and onboarded members."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from quanzi.circles import actions as circle_actions


@pytest.fixture(autouse=True)
def _private_cache(settings, request):
    """allauth's rate limits live in the cache: an empty one per test (never FLUSHDB a shared Redis)."""
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": request.node.nodeid}
    }
    cache.clear()


@pytest.fixture
def client_as(client):
    """``client_as(user)``: the test client logged in as ``user`` (or logged out for None)."""

    def login(user):
        client.logout()
        if user is not None:
            client.force_login(user)
        return client

    return login


@pytest.fixture
def onboarded(circle):
    """Finish onboarding for users who joined through the fixtures, so pages don't redirect."""

    def finish(*users):
        for user in users:
            circle_actions.do_finish_onboarding(user=user, circle=circle)

    return finish


def htmx(client, url, data=None):
    return client.post(url, data or {}, HTTP_HX_REQUEST="true")
