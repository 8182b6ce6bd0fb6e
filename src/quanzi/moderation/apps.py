from django.apps import AppConfig


class ModerationConfig(AppConfig):
    name = "quanzi.moderation"
    label = "moderation"
