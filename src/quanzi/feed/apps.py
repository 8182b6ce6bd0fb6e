from django.apps import AppConfig


class FeedConfig(AppConfig):
    name = "quanzi.feed"
    label = "feed"
