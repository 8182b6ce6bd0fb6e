from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "quanzi.realtime"
    label = "realtime"
