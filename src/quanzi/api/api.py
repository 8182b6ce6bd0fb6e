"""The REST API object: authentication, the JSON error mapping and the app routers.

OpenAPI at ``/api/openapi.json``, interactive docs at ``/api/docs``.
"""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import NinjaAPI, Router

from .accounts import router as accounts_router
from .archive import router as archive_router
from .auth import DEFAULT_AUTH
from .chat import router as chat_router
from .checkins import router as checkins_router
from .circles import router as circles_router
from .errors import error_body, install_error_handlers
from .feed import router as feed_router
from .moderation import router as moderation_router
from .parser import ObjectJSONParser
from .payments import router as payments_router
from .search import router as search_router

api = NinjaAPI(
    title="Quanzi API",
    version="1",
    description=(
        "Circles, roles and live group chat. Authenticate with `Authorization: Bearer qz_…` "
        "(create a token with `POST /api/auth/tokens`) or with the browser session plus the "
        "`X-CSRFToken` header on unsafe methods. Errors are `{\"code\", \"message\"}`."
    ),
    urls_namespace="api",
    auth=DEFAULT_AUTH,
    parser=ObjectJSONParser(),
)
install_error_handlers(api)
api.add_router("", accounts_router)
api.add_router("", circles_router)
api.add_router("", chat_router)
api.add_router("", payments_router)
api.add_router("", feed_router)
api.add_router("", archive_router)
api.add_router("", search_router)
api.add_router("", moderation_router)
api.add_router("", checkins_router)

# Registered last, so it only catches paths no router claimed: clients get the JSON error
# shape for a mistyped URL too, not Django's HTML 404 page.
fallback = Router()


@fallback.api_operation(
    ["GET", "POST", "PUT", "PATCH", "DELETE"], "/{path:unknown}", auth=None, include_in_schema=False
)
def unknown_path(request: HttpRequest, unknown: str):
    return api.create_response(request, error_body("not_found", _("No such API endpoint.")), status=404)


api.add_router("", fallback)
