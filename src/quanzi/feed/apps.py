from django.apps import AppConfig


def _visible_post_ids(user, ids: set[int]) -> set[int]:
    """The archive asks which posts (hence which attached files) this user may see."""
    from .selectors import can_view_post_ids

    return {pid for pid, ok in can_view_post_ids(user, ids).items() if ok}


class FeedConfig(AppConfig):
    name = "quanzi.feed"
    label = "feed"

    def ready(self) -> None:
        from quanzi.archive.access import register_visibility

        register_visibility("post", _visible_post_ids)
