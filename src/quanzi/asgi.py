"""ASGI entry point: Django for HTTP, Channels for the one WebSocket per client."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quanzi.settings")

import django  # noqa: E402

django.setup(set_prefix=False)

from quanzi.core.asgi_http import PooledASGIHandler  # noqa: E402

# HTTP: the sync Django stack in a long-lived thread pool, one hop per request (core/asgi_http.py).
django_asgi_app = PooledASGIHandler()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from quanzi.realtime.auth import AllowedHostsOriginValidator, QuanziAuthMiddlewareStack  # noqa: E402
from quanzi.realtime.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(QuanziAuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
