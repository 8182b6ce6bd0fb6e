"""Fixtures for payments: a paid circle, a payer, and deliveries through the real webhook URL."""

from __future__ import annotations

import json
import time

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone, translation

from quanzi.payments import actions
from quanzi.payments.models import PlanKind
from quanzi.payments.providers import sandbox


@pytest.fixture(autouse=True)
def _payment_settings(settings, request):
    settings.QUANZI_PAYMENT_PROVIDERS = ["sandbox", "manual", "stripe"]
    settings.QUANZI_PLATFORM_FEE_BPS = 500
    settings.QUANZI_STRIPE_WEBHOOK_SECRET = "whsec_test_secret"
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": request.node.nodeid}
    }
    cache.clear()
    yield
    translation.deactivate()
    timezone.deactivate()


@pytest.fixture
def monthly(circle, owner):
    """The circle becomes paid: 19.99 CNY a month."""
    return actions.do_create_plan(actor=owner, circle=circle, name="Monthly", kind=PlanKind.MONTHLY, amount=1999)


@pytest.fixture
def payer(make_user):
    return make_user("payer")


def deliver(body: bytes, *, timestamp: int | None = None, signature: str | None = None, provider: str = "sandbox",
            header: str = "HTTP_X_QUANZI_SANDBOX_SIGNATURE"):
    """POST a webhook to the real URL, signed with the sandbox key unless ``signature`` is given."""
    stamp = int(time.time()) if timestamp is None else timestamp
    value = signature if signature is not None else sandbox.sign(body, stamp)
    return Client().post(f"/payments/webhooks/{provider}/", body, content_type="application/json", **{header: value})


def sandbox_event(order, outcome: str = "pay", **overrides) -> bytes:
    body = json.loads(sandbox.build_event(order.public_id, outcome, amount=order.amount, currency=order.currency))
    body["data"].update(overrides.pop("data", {}))
    body.update(overrides)
    return json.dumps(body).encode()


def order_for(user, circle, plan, *, key: str = "k1", provider: str = "sandbox"):
    return actions.do_create_order(user=user, circle=circle, plan_id=plan.id, provider=provider,
                                   idempotency_key=key).order
