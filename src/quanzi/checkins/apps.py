from django.apps import AppConfig


def visible_checkins(user, ids: set[int]) -> set[int]:
    """Files attached to a check-in are visible to the active members of the challenge's circle."""
    from .models import CheckIn

    if user is None or not getattr(user, "is_authenticated", False) or not ids:
        return set()
    return set(
        CheckIn.objects.filter(id__in=ids, challenge__circle__memberships__user=user,
                               challenge__circle__memberships__status="active").values_list("id", flat=True)
    )


class CheckinsConfig(AppConfig):
    name = "quanzi.checkins"
    label = "checkins"

    def ready(self) -> None:
        from quanzi.archive.access import register_visibility
        from quanzi.core.events import add_listener

        from .settlement_tasks import on_challenge_event

        register_visibility("checkin", visible_checkins)
        # A new or re-timed challenge gets its settlement run (deposits work, settlement_tasks.py).
        add_listener(on_challenge_event)
