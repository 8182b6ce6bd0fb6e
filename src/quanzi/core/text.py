"""Text rules shared by every input path (HTTP forms and queries, JSON bodies, WebSocket frames).

PostgreSQL refuses NUL (U+0000) in text columns and in query parameters, and no human text
needs it, so it is refused at the edge with a clear 400 instead of failing in the database.

``url_spans`` finds the http(s) links people paste into Chinese and English text: the same links
are made clickable (chat markdown) and archived (link snapshots).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

# A link runs until white space, markup characters or CJK punctuation (so "https://a.cn/x，谢谢" stops
# at the full-width comma); Chinese characters themselves may be part of it (IDN hosts, paths).
_URL_RE = re.compile(r"""https?://[^\s<>"'`{}|\\^\u3000-\u303f\uff00-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65]+""",
                     re.IGNORECASE)
_TRAILING = ".,;:!?)]}*_~"


def url_spans(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each http(s) link in ``text``, without trailing sentence punctuation."""
    if "://" not in text:
        return
    for match in _URL_RE.finditer(text):
        start, end = match.span()
        while end > start and text[end - 1] in _TRAILING:
            if text[end - 1] == ")" and text.count("(", start, end) >= text.count(")", start, end):
                break  # a balanced parenthesis belongs to the URL (Wikipedia style)
            end -= 1
        if end - start > len("https://"):
            yield start, end


NUL = "\x00"


def contains_nul(value: Any) -> bool:
    """True when any string in a decoded JSON value (keys included) contains NUL."""
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(contains_nul(k) or contains_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(contains_nul(item) for item in value)
    return False
