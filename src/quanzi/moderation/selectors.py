"""Reusable reads of moderation: the review queue, trust overview, counts."""

from __future__ import annotations

from typing import Any

from quanzi.chat.selectors import user_brief

from .learning import pending_count
from .models import MemberTrust, ReviewItem, TrustLevel


def queue_items(circle_id: int, *, status: str, limit: int = 100, offset: int = 0) -> list[ReviewItem]:
    qs = (
        ReviewItem.objects.filter(circle_id=circle_id, status=status)
        .select_related("author", "decided_by")
        .prefetch_related("reports")
        .order_by("-id")
    )
    return list(qs[offset: offset + limit])


def queue_item(circle_id: int, item_id: int) -> ReviewItem | None:
    return ReviewItem.objects.filter(circle_id=circle_id, id=item_id).select_related("author", "decided_by").first()


def item_to_dict(item: ReviewItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "kind": item.kind,
        "object_id": item.object_id,
        "group_id": item.group_id,
        "author": user_brief(item.author),
        "text": item.text,
        "score": round(item.score, 4),
        "reasons": list(item.reasons or []),
        "auto_action": item.auto_action,
        "status": item.status,
        "report_count": item.report_count,
        "report_reasons": [r.reason for r in item.reports.all() if r.reason][:20],
        "created_at": item.created_at.isoformat(),
        "decision": item.decision or None,
        "decided_by": user_brief(item.decided_by),
        "decided_at": item.decided_at.isoformat() if item.decided_at else None,
    }


def trust_rows(circle_id: int, limit: int = 50) -> list[MemberTrust]:
    """Members whose level an admin set by hand, then the most active."""
    return list(
        MemberTrust.objects.filter(circle_id=circle_id).select_related("user")
        .order_by("-locked_by_admin", "-level", "-messages")[:limit]
    )


def trust_to_dict(row: MemberTrust | None, *, user_id: int, level: int) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "level": level,
        "level_name": str(TrustLevel(level).label),
        "locked_by_admin": bool(row and row.locked_by_admin),
        "messages": row.messages if row else 0,
        "active_days": row.active_days if row else 0,
    }


__all__ = ["queue_items", "queue_item", "item_to_dict", "trust_rows", "trust_to_dict", "pending_count"]
