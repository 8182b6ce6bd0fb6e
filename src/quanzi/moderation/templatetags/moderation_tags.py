"""Template helpers for the moderation tabs in the circle header."""

from __future__ import annotations

from django import template

from ..learning import pending_count

register = template.Library()


@register.simple_tag
def review_queue_count(circle) -> int:
    """Items waiting in the circle's review queue (the tab shows it to moderators)."""
    return pending_count(circle.id)
