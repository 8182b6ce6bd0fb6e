from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "quanzi.chat"
    label = "chat"
