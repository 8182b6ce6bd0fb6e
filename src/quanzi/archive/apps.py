from django.apps import AppConfig


class ArchiveConfig(AppConfig):
    name = "quanzi.archive"
    label = "archive"

    def ready(self) -> None:
        from . import snapshot_tasks  # noqa: F401 - connects the link-snapshot signal listeners
