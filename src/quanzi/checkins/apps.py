from django.apps import AppConfig


class CheckinsConfig(AppConfig):
    name = "quanzi.checkins"
    label = "checkins"
