"""ASGI entry point: Django for HTTP, Channels for the one WebSocket per client."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quanzi.settings")

from django.core.asgi import get_asgi_application  # noqa: E402

django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from quanzi.realtime.auth import AllowedHostsOriginValidator, QuanziAuthMiddlewareStack  # noqa: E402
from quanzi.realtime.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(QuanziAuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
