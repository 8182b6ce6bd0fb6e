"""The REST API object: authentication, the JSON error mapping and the app routers.

OpenAPI at ``/api/openapi.json``, interactive docs at ``/api/docs``.
"""

from __future__ import annotations

from ninja import NinjaAPI

from .accounts import router as accounts_router
from .auth import DEFAULT_AUTH
from .chat import router as chat_router
from .circles import router as circles_router
from .errors import install_error_handlers
from .parser import ObjectJSONParser

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
