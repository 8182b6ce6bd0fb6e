from django.apps import AppConfig


class SearchConfig(AppConfig):
    name = "quanzi.search"
    label = "search"
