from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "quanzi.web"
    label = "web"
