from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from quanzi.api.api import api
from quanzi.core.media import serve_image

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("api/", api.urls),
    path("payments/", include("quanzi.payments.urls")),
    path("", include("quanzi.web.urls")),
]

# Uploaded pictures, with DEBUG on or off (core/media.py serves only our re-encoded PNGs).
# A proxy may serve MEDIA_ROOT at MEDIA_URL itself; then these requests never get here.
if settings.MEDIA_URL.startswith("/"):
    urlpatterns.insert(0, path(f"{settings.MEDIA_URL.strip('/')}/<path:name>", serve_image, name="media"))
