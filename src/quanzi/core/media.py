"""Serving uploaded pictures from our own origin, safely, with or without DEBUG.

Every upload we keep is a PNG written by ``core.images.reencode_image`` under a random
name, so this view serves exactly that and nothing else: the URL must be one of those
storage names (a fixed folder, a plain file name, ``.png``; no other path reaches the
storage), the file must start with the PNG signature, and it goes out as ``image/png``,
``inline``, with ``nosniff`` so no browser reads it as anything else. Names are never
reused (a new picture gets a new name), so the response may be cached for long. A proxy
in front may serve ``/media/`` itself instead (README, configuration).
"""

from __future__ import annotations

import re

from django.core.files.storage import default_storage
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_safe

# The upload_to folders of User.avatar and Circle.avatar, then a generated name.
SERVED_NAME = re.compile(r"(?:avatars|circle-avatars)/[A-Za-z0-9_-]{1,100}\.png")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_SERVED_BYTES = 4 * 1024 * 1024  # a 512×512 RGBA PNG is at most about 1 MB
ONE_YEAR = 365 * 24 * 3600


@require_safe
def serve_image(request: HttpRequest, name: str) -> HttpResponse:
    if not SERVED_NAME.fullmatch(name):
        raise Http404
    try:
        with default_storage.open(name, "rb") as fh:
            data = fh.read(MAX_SERVED_BYTES + 1)
    except OSError:  # missing (FileNotFoundError), a folder, unreadable
        raise Http404 from None
    if not data.startswith(PNG_SIGNATURE) or len(data) > MAX_SERVED_BYTES:
        raise Http404  # not one of our re-encoded pictures: never serve it
    response = HttpResponse(data, content_type="image/png")
    response["Content-Disposition"] = "inline"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = f"max-age={ONE_YEAR}, immutable"
    return response
