"""Links to files of the archive app attached to posts.

The archive app owns files, their storage and their permission-checked download views; the
feed only keeps which files a post shows (``PostAttachment``) and asks the archive for URLs.
"""

from __future__ import annotations

from django.urls import NoReverseMatch, reverse

# URL names the archive app gives its download and thumbnail views (both take the file's public id).
DOWNLOAD_URL_NAME = "archive_download"
THUMBNAIL_URL_NAME = "archive_thumbnail"


def _url(name: str, public_id: str) -> str | None:
    try:
        return reverse(name, args=[public_id])
    except NoReverseMatch:
        return None


def download_url(public_id: str) -> str | None:
    return _url(DOWNLOAD_URL_NAME, public_id)


def thumbnail_url(public_id: str) -> str | None:
    return _url(THUMBNAIL_URL_NAME, public_id)
