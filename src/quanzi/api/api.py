"""The REST API object. App routers are mounted here."""

from __future__ import annotations

from ninja import NinjaAPI

api = NinjaAPI(title="Quanzi API", version="1", urls_namespace="api")
