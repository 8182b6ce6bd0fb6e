"""REST operations of the checkins app."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["checkins"])
