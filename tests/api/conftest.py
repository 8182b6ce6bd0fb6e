"""Fixtures for the API tests."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.utils import timezone, translation

from .helpers import ApiClient


@pytest.fixture(autouse=True)
def _private_cache(settings, request):
    """Login throttling lives in the cache: give each test an empty one of its own.

    (Clearing the configured cache instead would FLUSHDB a shared Redis.)
    """
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": request.node.nodeid}
    }
    cache.clear()


@pytest.fixture
def api_as(db):
    """``api_as(user)`` → an ApiClient authenticated as ``user`` with a fresh token."""

    def make(user=None) -> ApiClient:
        return ApiClient(user)

    return make


@pytest.fixture(autouse=True)
def _reset_thread_locale():
    """Requests activate the user's language and zone on this thread; don't leak them."""
    yield
    translation.deactivate()
    timezone.deactivate()
