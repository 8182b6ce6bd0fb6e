from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "quanzi.realtime"
    label = "realtime"

    def ready(self) -> None:
        # Real-time delivery listens to domain events; nothing imports this app.
        from quanzi.core.events import add_listener

        from .publish import publish_event

        add_listener(publish_event)
