"""Web pages of direct messages: `circle_patterns` live under /c/<slug>/, `urlpatterns` at the site root."""

from django.urls import path

from . import dm_views

circle_patterns = [
    path("messages/", dm_views.dm_list, name="chat_dms"),
    path("messages/with/<int:user_id>/", dm_views.dm_start, name="chat_dm_start"),
]
urlpatterns = [
    path("me/blocks/<int:user_id>/block/", dm_views.block, name="chat_block"),
    path("me/blocks/<int:user_id>/unblock/", dm_views.unblock, name="chat_unblock"),
]
