from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "quanzi.accounts"
    label = "accounts"
