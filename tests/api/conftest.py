"""Fixtures for the API tests."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from .helpers import ApiClient


@pytest.fixture(autouse=True)
def _clear_cache():
    # Login throttling lives in the cache; keep tests independent.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api_as(db):
    """``api_as(user)`` → an ApiClient authenticated as ``user`` with a fresh token."""

    def make(user=None) -> ApiClient:
        return ApiClient(user)

    return make
