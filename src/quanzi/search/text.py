"""Text handling shared by indexing and querying: normalisation, query terms, snippets.

Text and queries are NFKC-normalised (full-width Ｍｏｒｎｉｎｇ → Morning, ① → 1, half-width kana →
full-width) and case-folded for matching. A query is split on white space into terms that must all
occur as substrings: that finds 早起打卡 inside 今天早起打卡成功 and "morn" inside "morning"
without a word segmenter. Every character of a term is literal — no query syntax is exposed.
"""

from __future__ import annotations

import re
import unicodedata

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from quanzi.core.errors import InvalidInput

MAX_QUERY_LENGTH = 200
MAX_TERMS = 8
# Long texts (archived pages) are cut: search finds a page by what it is mainly about.
MAX_INDEXED_CHARS = 20_000
SNIPPET_CHARS = 160

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACE = re.compile(r"\s+")


def normalize(text: str) -> str:
    """NFKC, control characters out, runs of white space as one space."""
    text = unicodedata.normalize("NFKC", text or "")
    text = _CONTROL.sub(" ", text)
    return _SPACE.sub(" ", text).strip()


def fold(text: str) -> str:
    """The form the index matches on: normalised and case-folded."""
    return normalize(text).casefold()


def parse_query(query: object) -> list[str]:
    """The distinct terms of a query, folded; refuses empty and over-long queries with a clear message."""
    if not isinstance(query, str):
        raise InvalidInput(_("Type something to search for."), code="empty_query")
    if len(query) > MAX_QUERY_LENGTH * 4:
        raise InvalidInput(
            _("The search is too long; use at most %(n)d characters.") % {"n": MAX_QUERY_LENGTH}, code="query_too_long"
        )
    folded = fold(query)
    if not folded:
        raise InvalidInput(_("Type something to search for."), code="empty_query")
    if len(folded) > MAX_QUERY_LENGTH:
        raise InvalidInput(
            _("The search is too long; use at most %(n)d characters.") % {"n": MAX_QUERY_LENGTH}, code="query_too_long"
        )
    terms: list[str] = []
    for term in folded.split(" "):
        if term and term not in terms:
            terms.append(term)
    if len(terms) > MAX_TERMS:
        raise InvalidInput(
            _("Use at most %(n)d words in one search.") % {"n": MAX_TERMS}, code="query_too_many_terms"
        )
    return terms


def snippet(text: str, terms: list[str], *, width: int = SNIPPET_CHARS) -> SafeString:
    """An HTML-escaped excerpt around the first hit with every term wrapped in <mark>."""
    text = text or ""
    pattern = re.compile("|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True)), re.IGNORECASE)
    first = pattern.search(text)
    start = 0
    if first is not None and first.start() > width // 3:
        start = first.start() - width // 3
    end = min(len(text), start + width)
    excerpt = text[start:end]
    parts: list[str] = []
    position = 0
    for match in pattern.finditer(excerpt):
        parts.append(escape(excerpt[position : match.start()]))
        parts.append(f"<mark>{escape(match.group(0))}</mark>")
        position = match.end()
    parts.append(escape(excerpt[position:]))
    html = "".join(parts)
    if start > 0:
        html = "…" + html
    if end < len(text):
        html += "…"
    return mark_safe(html)  # noqa: S308 - every piece of text above went through escape()
