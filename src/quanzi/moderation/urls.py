"""Web pages of the moderation app: `circle_patterns` live under /c/<slug>/, `urlpatterns` at the site root."""

from django.urls import path

from . import views

circle_patterns: list = [
    path("moderation/queue/", views.queue, name="moderation_queue"),
    path("moderation/queue/<int:item_id>/decide/", views.decide, name="moderation_decide"),
    path("moderation/settings/", views.settings_page, name="moderation_settings"),
    path("moderation/trust/", views.set_trust, name="moderation_trust"),
    path("moderation/report/", views.report, name="moderation_report"),
]
urlpatterns: list = []
