"""Links to files of the archive app attached to posts.

The archive app owns files, their storage and their permission-checked download views; the
feed only keeps which files a post shows (``PostAttachment``) and asks the archive for URLs.
"""

from __future__ import annotations

import functools

from django.urls import reverse

# URL names the archive app gives its permission-checked download and thumbnail views.
DOWNLOAD_URL_NAME = "archive_file_download"
THUMBNAIL_URL_NAME = "archive_file_thumbnail"
_PLACEHOLDER = "PUBLICID"


@functools.cache
def _pattern(name: str) -> tuple[str, str]:
    """The URL around a public id, resolved once (a page shows many files; reverse() is slow)."""
    url = reverse(name, args=[_PLACEHOLDER])
    head, _sep, tail = url.partition(_PLACEHOLDER)
    return head, tail


def _url(name: str, public_id: str) -> str:
    head, tail = _pattern(name)
    return f"{head}{public_id}{tail}"


def download_url(public_id: str) -> str:
    return _url(DOWNLOAD_URL_NAME, public_id)


def thumbnail_url(public_id: str) -> str:
    return _url(THUMBNAIL_URL_NAME, public_id)


def url_parts() -> tuple[tuple[str, str], tuple[str, str]]:
    """((head, tail) of download URLs, (head, tail) of thumbnail URLs): the text around a file's public id.

    For building the URLs in SQL (``feed.pagejson``); ``download_url`` and ``thumbnail_url`` give the same.
    """
    return _pattern(DOWNLOAD_URL_NAME), _pattern(THUMBNAIL_URL_NAME)
