"""Web pages of the checkins app: `circle_patterns` live under /c/<slug>/, `urlpatterns` at the site root."""

import os

from django.urls import path

from . import settlement_views, views

circle_patterns: list = [
    path("challenges/", views.challenge_list, name="checkins_list"),
    path("challenges/new/", views.challenge_create, name="checkins_create"),
    path("challenges/<int:challenge_id>/", views.challenge_detail, name="checkins_detail"),
    path("challenges/<int:challenge_id>/edit/", views.challenge_edit, name="checkins_edit"),
    path("challenges/<int:challenge_id>/join/", views.challenge_join, name="checkins_join"),
    path("challenges/<int:challenge_id>/checkin/", views.check_in, name="checkins_checkin"),
    path("challenges/<int:challenge_id>/makeup/", views.make_up, name="checkins_makeup"),
    path("challenges/<int:challenge_id>/board/", views.board, name="checkins_board"),
    path("challenges/<int:challenge_id>/calendar/<int:user_id>/", views.calendar, name="checkins_calendar"),
    path("challenges/<int:challenge_id>/feed/", views.feed, name="checkins_feed"),
    path("checkins/<int:checkin_id>/like/", views.like, name="checkins_like"),
    path("checkins/<int:checkin_id>/comment/", views.comment, name="checkins_comment"),
    path("checkin-comments/<int:comment_id>/delete/", views.comment_delete, name="checkins_comment_delete"),
    # Deposit settlement report (settlement work).
    path("challenges/<int:challenge_id>/settlement/", settlement_views.settlement_report_page,
         name="checkins_settlement"),
    path("challenges/<int:challenge_id>/leave/", settlement_views.challenge_leave, name="checkins_leave"),
]
urlpatterns: list = []

# benchmarks/rush.py's baseline (a bare one-INSERT view); never mounted unless asked for.
if os.environ.get("QUANZI_BENCH_URLS") == "1":
    from . import bench

    urlpatterns.append(path("bench/bare-insert/", bench.bare_insert, name="checkins_bench_bare_insert"))
