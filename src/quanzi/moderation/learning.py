"""Per-circle learning: moderators' decisions train a small correction on top of the shipped model.

Each decision (approve = not an ad, delete/mute/ban = an ad) is kept on its review item. The
background task ``tasks.learn_from_decisions`` retrains the circle's correction from all of
them (``classifier.model.train_circle_model``, deterministic) and stores it in
``CircleLearning``; the gate then scores that circle's content with the corrected model. Each
process keeps the corrected classifier of a circle until the stored version changes (the
version travels through the cache, so every process notices a retrain within one send).
"""

from __future__ import annotations

import functools

from django.core.cache import cache
from django.db import transaction

from .classifier.model import get_classifier, train_circle_model
from .models import CircleLearning, Decision, ItemStatus, ReviewItem
from .trust import circle_stamp

_CACHE_KEY = "moderation:learning:{}:{}"
CACHE_SECONDS = 300
MAX_EXAMPLES = 5000  # newest decisions used for a retrain


def _cache_key(circle_id: int, stamp: str) -> str:
    return _CACHE_KEY.format(circle_id, stamp)


def _current_version(circle_id: int, stamp: str) -> int:
    version = cache.get(_cache_key(circle_id, stamp))
    if version is None:
        version = CircleLearning.objects.filter(circle_id=circle_id).values_list("version", flat=True).first() or 0
        cache.set(_cache_key(circle_id, stamp), version, CACHE_SECONDS)
    return version


@functools.lru_cache(maxsize=256)
def _circle_classifier(circle_id: int, stamp: str, version: int):
    base = get_classifier()
    if not version:
        return base
    state = CircleLearning.objects.filter(circle_id=circle_id).values_list("state", flat=True).first()
    return base.with_circle(state) if state else base


def score_for_circle(circle_id: int, text: str, *, stamp: str | None = None):
    """The classifier's verdict with the circle's learned correction (the base model if it has none)."""
    if stamp is None:
        stamp = circle_stamp(circle_id)
    return _circle_classifier(circle_id, stamp, _current_version(circle_id, stamp)).score(text or "")


def decided_examples(circle_id: int) -> list[tuple[str, bool]]:
    """(text, is_spam) of every human decision in the circle, oldest first."""
    rows = (
        ReviewItem.objects.filter(circle_id=circle_id, decided_by__isnull=False)
        .exclude(decision="")
        .order_by("-decided_at", "-id")
        .values_list("text", "decision")[:MAX_EXAMPLES]
    )
    return [(text, decision != Decision.APPROVE) for text, decision in reversed(list(rows))]


def learn(circle_id: int) -> CircleLearning:
    """Retrain the circle's correction from all its decisions and publish the new version."""
    examples = decided_examples(circle_id)
    model = train_circle_model(get_classifier(), examples)
    with transaction.atomic():
        row, _created = CircleLearning.objects.select_for_update().get_or_create(circle_id=circle_id)
        row.state = model.to_json()
        row.decisions = len(examples)
        row.version += 1
        row.save()
    version, key = row.version, _cache_key(circle_id, circle_stamp(circle_id))
    cache.set(key, version, CACHE_SECONDS)
    transaction.on_commit(lambda: cache.set(key, version, CACHE_SECONDS))
    return row


def learned_from(circle_id: int) -> int:
    return CircleLearning.objects.filter(circle_id=circle_id).values_list("decisions", flat=True).first() or 0


def pending_count(circle_id: int) -> int:
    return ReviewItem.objects.filter(circle_id=circle_id, status=ItemStatus.PENDING).count()
