from django.apps import AppConfig


class ModerationConfig(AppConfig):
    name = "quanzi.moderation"
    label = "moderation"

    def ready(self) -> None:
        # A missing or broken model file must stop the server at start-up, not fail at the first message.
        from .classifier.model import check_model

        check_model()
