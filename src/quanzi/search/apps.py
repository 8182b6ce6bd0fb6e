from django.apps import AppConfig


class SearchConfig(AppConfig):
    name = "quanzi.search"
    label = "search"

    def ready(self) -> None:
        from . import receivers  # noqa: F401 - connects the content signal listeners
