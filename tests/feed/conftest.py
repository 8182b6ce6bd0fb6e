"""Fixtures for the feed tests: API clients and a quick way to write posts."""

from __future__ import annotations

import pytest
from api.helpers import ApiClient
from django.core.cache import cache
from django.utils import timezone, translation

from quanzi.feed import actions


@pytest.fixture(autouse=True)
def _private_cache(settings, request):
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
    def make(user=None) -> ApiClient:
        return ApiClient(user)

    return make


@pytest.fixture
def post_as(circle):
    """``post_as(user, body, **fields)`` publishes through the real action."""

    def make(user, body="hello feed", **fields):
        return actions.do_create_post(actor=user, circle=circle, body=body, **fields)

    return make


@pytest.fixture
def make_attachment(settings, tmp_path):
    """Attach a stored file of the archive to a post (rows only; the archive app owns the bytes)."""
    from quanzi.archive.models import Blob, CircleFile
    from quanzi.feed.models import PostAttachment

    counter = {"n": 0}

    def make(post, kind="image"):
        counter["n"] += 1
        n = counter["n"]
        blob = Blob.objects.create(sha256=f"{n:064x}", size=10 + n, content_type="image/png", storage_key=f"k{n}")
        f = CircleFile.objects.create(circle_id=post.circle_id, uploader_id=post.author_id, blob=blob,
                                      name=f"f{n}.png", kind=kind, attached_kind="post", attached_id=post.id)
        PostAttachment.objects.create(post=post, file=f, position=n)
        return f

    return make


@pytest.fixture
def paid_plans(circle, owner, make_user):
    """Two paid plans of the circle and a member ("payer") whose order for the first is paid.

    Call after the other members joined: once the circle has plans, joining needs a payment.
    """
    from quanzi.payments import actions as payment_actions

    def make():
        plan = payment_actions.do_create_plan(actor=owner, circle=circle, name="Y", kind="yearly", amount=100)
        other = payment_actions.do_create_plan(actor=owner, circle=circle, name="M", kind="monthly", amount=10)
        payer = make_user("payer")
        order = payment_actions.do_create_order(user=payer, circle=circle, plan_id=plan.id, provider="manual",
                                                idempotency_key="k").order
        payment_actions.do_mark_order_paid(order=order)
        return plan, other, payer

    return make
