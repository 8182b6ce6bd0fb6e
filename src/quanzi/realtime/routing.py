"""WebSocket URL patterns: one socket per client at ``/ws/``."""

from __future__ import annotations

from django.urls import path

from .consumers import RealtimeConsumer

websocket_urlpatterns = [path("ws/", RealtimeConsumer.as_asgi())]
