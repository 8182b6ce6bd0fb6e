"""Background work of moderation: retraining a circle's correction after its moderators decide."""

from __future__ import annotations

from django.tasks import task


@task()
def learn_from_decisions(*, circle_id: int) -> int:
    """Retrain the circle's correction from all its decisions; returns how many it learned from."""
    from .learning import learn

    return learn(circle_id).decisions
