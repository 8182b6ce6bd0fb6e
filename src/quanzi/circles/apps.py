from django.apps import AppConfig


class CirclesConfig(AppConfig):
    name = "quanzi.circles"
    label = "circles"
