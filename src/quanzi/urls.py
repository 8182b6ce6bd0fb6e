from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from quanzi.api import fastfeed
from quanzi.api.api import api
from quanzi.core.media import serve_image
from quanzi.core.urltree import nest_routes

_api_patterns, _api_app, _api_namespace = api.urls

urlpatterns = [
    fastfeed.route(_api_patterns),  # the API feed page's fast lane (api/fastfeed.py)
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    # The API's ~130 routes nested by segment (core/urltree.py): a request tries a few patterns, not all.
    path("api/", (nest_routes(_api_patterns), _api_app, _api_namespace)),
    path("payments/", include("quanzi.payments.urls")),
    path("", include("quanzi.web.urls")),
]

# Uploaded pictures, with DEBUG on or off (core/media.py serves only our re-encoded PNGs).
# A proxy may serve MEDIA_ROOT at MEDIA_URL itself; then these requests never get here.
if settings.MEDIA_URL.startswith("/"):
    urlpatterns.insert(0, path(f"{settings.MEDIA_URL.strip('/')}/<path:name>", serve_image, name="media"))
