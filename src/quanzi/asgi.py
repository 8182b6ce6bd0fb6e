"""ASGI entry point: Django for HTTP, Channels for the one WebSocket per client."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quanzi.settings")

import django  # noqa: E402

django.setup(set_prefix=False)

from quanzi.api import asyncfeed  # noqa: E402
from quanzi.core.asgi_http import PooledASGIHandler  # noqa: E402

# HTTP: the sync Django stack in a long-lived thread pool, one hop per request (core/asgi_http.py); on
# PostgreSQL the feed API's later pages on the event loop (api/asyncfeed.py).
django_asgi_app = PooledASGIHandler(early_lane=asyncfeed if asyncfeed.enabled() else None)

# Import the URLconf (every view, the API and its ~1,500 pydantic schemas) and build its reversing
# table now, not in the first request: that took ~1.5 s of one request per server process (measured
# in make bench's feed run).
from django.urls import get_resolver  # noqa: E402

get_resolver().reverse_dict  # noqa: B018 - also builds the reversing table {% url %} and reverse() use

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from quanzi.realtime.auth import AllowedHostsOriginValidator, QuanziAuthMiddlewareStack  # noqa: E402
from quanzi.realtime.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(QuanziAuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)

# Everything loaded so far (apps, URLconf, schemas, templates' libraries) lives as long as the
# process: move it out of the cyclic collector's reach, so full collections under load walk only
# request garbage (gc.freeze, as Instagram's and Python's docs describe for pre-loaded servers).
import gc  # noqa: E402

gc.collect()
gc.freeze()
