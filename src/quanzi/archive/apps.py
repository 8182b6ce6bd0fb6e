from django.apps import AppConfig


class ArchiveConfig(AppConfig):
    name = "quanzi.archive"
    label = "archive"
