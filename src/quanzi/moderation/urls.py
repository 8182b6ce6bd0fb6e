"""Web pages of the moderation app: `circle_patterns` live under /c/<slug>/, `urlpatterns` at the site root."""

from django.urls import path  # noqa: F401

circle_patterns: list = []
urlpatterns: list = []
