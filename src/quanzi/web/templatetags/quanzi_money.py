"""Template helpers for paid circles: money formatting and the circle page's pricing block."""

from __future__ import annotations

import secrets

from django import template

from quanzi.payments import selectors as payment_selectors
from quanzi.payments.models import Order, OrderStatus
from quanzi.payments.providers import enabled_providers

from ..money import format_money

register = template.Library()


@register.filter
def money(amount, currency: str) -> str:
    """``{{ order.amount|money:order.currency }}`` → "¥99.00"."""
    if amount is None or amount == "":
        return ""
    return format_money(int(amount), currency)


@register.simple_tag
def circle_is_paid(circle) -> bool:
    """Joining needs a paid order (the plain Join button is hidden)."""
    return payment_selectors.requires_payment(circle)


@register.inclusion_tag("web/_pricing.html", takes_context=True)
def circle_pricing(context, circle, membership=None) -> dict:
    """The active plans with one order form each. Every render carries a fresh idempotency key, so
    submitting the same form twice (double click, back + resubmit) creates one order."""
    plans = list(payment_selectors.circle_plans(circle))
    user = context.get("user")
    waiting = []
    if plans and user is not None and user.is_authenticated:
        # Orders still waiting (a manual transfer not yet confirmed, a checkout left half-way).
        waiting = list(Order.objects.filter(user_id=user.id, circle_id=circle.id, status=OrderStatus.PENDING)
                       .order_by("-id")[:3])
    providers = enabled_providers()
    pay_providers = [p for p in ("sandbox", "stripe", "manual") if p in providers]
    for plan in plans:
        plan.idempotency_key = "web-" + secrets.token_urlsafe(18)
    return {
        "circle": circle,
        "membership": membership,
        "plans": plans,
        "providers": pay_providers,
        "default_provider": pay_providers[0] if pay_providers else "",
        "request": context.get("request"),
        "csrf_token": context.get("csrf_token"),
        "user": user,
        "waiting": waiting,
        "is_member": context.get("nav", {}).get("is_member", False),
    }
