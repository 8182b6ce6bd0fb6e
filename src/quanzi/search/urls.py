"""Web pages of the search app: `circle_patterns` live under /c/<slug>/, `urlpatterns` at the site root."""

from django.urls import path

from . import views

circle_patterns: list = [
    path("search/", views.search_page, name="search"),
]
urlpatterns: list = []
