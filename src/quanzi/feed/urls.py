"""Web pages of the feed app: `circle_patterns` live under /c/<slug>/, `urlpatterns` at the site root."""

import os

from django.urls import path

from . import views

circle_patterns: list = [
    path("feed/", views.feed, name="feed"),
    path("feed/new/", views.post_create, name="feed_post_create"),
    path("feed/<int:post_id>/", views.post_detail, name="feed_post"),
    path("feed/<int:post_id>/edit/", views.post_edit, name="feed_post_edit"),
    path("feed/<int:post_id>/delete/", views.post_delete, name="feed_post_delete"),
    path("feed/<int:post_id>/like/", views.post_like, name="feed_post_like"),
    path("feed/<int:post_id>/comments/", views.comment_create, name="feed_comment_create"),
    path("feed/<int:post_id>/<slug:flag>/", views.post_flag, name="feed_post_flag"),
    path("feed/comments/<int:comment_id>/delete/", views.comment_delete, name="feed_comment_delete"),
    path("feed/comments/<int:comment_id>/like/", views.comment_like, name="feed_comment_like"),
]
urlpatterns: list = []
if os.environ.get("QUANZI_BENCH") == "1":  # benchmarks/feed.py's baseline; never routed otherwise
    urlpatterns.append(path("bench/hello/", views.bench_hello, name="feed_bench_hello"))
