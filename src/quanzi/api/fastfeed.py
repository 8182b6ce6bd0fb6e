"""The feed page's fast lane: ``GET /api/circles/{slug}/posts`` with a bearer token, before django-ninja.

The feed page is the API's hottest read, and django-ninja's own work for it (the operation, the two
auth classes, the query-parameter model, building the token's and the user's model rows) cost about
a third as much as the page itself. An ordinary request therefore takes this lane:

- GET with ``Authorization: Bearer …`` (``core.fastlane`` marked it);
- query parameters among ``cursor``, ``limit``, ``featured`` and ``tag``, each at most once, with
  plain valid values (``limit`` digits within 1..50, ``featured`` ``true``/``false``/``1``/``0``, a
  valid cursor and tag);
- a usable token whose holder has an active membership in the circle: one statement finds the token,
  the membership and the plans paid for (``feed.fastsql.bearer_membership``).

The page itself is written by the database (``feed.pagejson``). From a token's second page on, the
token and the page are read in one statement (``pagejson.bearer_page``), the page for the reader
the token had on its previous page; if the token's role, plans or membership changed since, that page
is not used and is read again. Anything else — other methods, the
web session, a missing, revoked or malformed token, no membership, a bad cursor, an unusual
parameter — goes to the django-ninja operation (``api.feed.list_posts``) unchanged, which gives the
documented answers and errors; the OpenAPI description is that operation's. Tests compare both
lanes' pages and check that each odd case gets the operation's answer.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, QueryDict
from django.utils import timezone

from quanzi.accounts.selectors import note_token_use, token_key_hash
from quanzi.core.errors import InvalidInput
from quanzi.feed import fastsql, pagejson, selectors
from quanzi.feed.rules import Viewer, held_plans

from .auth import activate_preferences

ROUTE_NAME = "list_posts"  # the django-ninja operation this lane sits in front of
LANE_NAME = "feed_page_fast_lane"  # the lane's own URL name
QUERY_KEYS = frozenset({"cursor", "limit", "featured", "tag"})
_FLAGS = {"true": True, "false": False, "1": True, "0": False}


def query_arguments(query: QueryDict) -> dict[str, Any] | None:
    """The page's arguments when they are plain and valid, else None (the operation answers)."""
    for key in query:
        if key not in QUERY_KEYS or len(query.getlist(key)) != 1:
            return None
    limit = selectors.DEFAULT_PAGE
    if "limit" in query:
        text = query["limit"]
        if not (text.isascii() and text.isdigit() and len(text) <= 3):
            return None
        limit = int(text)
        if not 1 <= limit <= selectors.MAX_PAGE:
            return None
    featured = _FLAGS.get(query.get("featured", "false"))
    if featured is None:
        return None
    try:
        after, tag = selectors.page_arguments(query.get("cursor") or None, query.get("tag") or None)
    except InvalidInput:
        return None
    return {"after": after, "tag": tag, "limit": limit, "featured": featured}


# (token's key hash, circle slug) -> (circle id, reader) of the token's last page in that circle: the guess
# that lets the next page be read together with the token (``pagejson.bearer_page``). Only a guess:
# the answer is used only when the token's viewer, read in the same statement, still matches it.
_last_readers: dict[tuple[str, str], tuple[int, fastsql.Reader]] = {}
REMEMBERED_READERS = 10_000  # then forgotten all at once (a page more for each token, no growth)


def feed_page(request: HttpRequest, slug: str) -> HttpResponse | None:
    """The page as ``list_posts`` answers it, or None when this request must go to that operation."""
    if request.method != "GET" or not getattr(request, "bearer_api", False):
        return None
    key_hash = token_key_hash(request.META.get("HTTP_AUTHORIZATION", "").partition(" ")[2].strip())
    if key_hash is None:
        return None
    arguments = query_arguments(request.GET)
    if arguments is None:
        return None
    now = timezone.now()
    remembered_as = (key_hash, slug)
    guess = _last_readers.get(remembered_as)
    rows: list[tuple] = []
    if guess is None:  # the token's first page here: the token, then the page
        found = fastsql.bearer_membership(key_hash, slug, now)
    else:  # both in one statement, the page read for the reader the token had last time
        found, rows = pagejson.bearer_page(key_hash, slug, now, *guess, **arguments)
    if found is None or not found[2].is_active:
        _last_readers.pop(remembered_as, None)
        return None
    token, circle_id, membership, plans = found
    note_token_use(token["token_id"], token["last_used_at"])
    activate_preferences(request, token["user_timezone"], token["user_language"])
    viewer = Viewer(membership, plan_ids=held_plans(membership, plans, now))  # moderators see all anyway
    reader = fastsql.reader_of(viewer)
    if reader is not None and guess == (circle_id, reader):
        items, next_cursor = pagejson.page_result(rows, viewer, arguments["limit"])
    else:  # first page, or the token's role, plans or membership changed since its last page
        items, next_cursor = pagejson.page_json(circle_id, viewer, **arguments)
        if reader is not None:
            if len(_last_readers) >= REMEMBERED_READERS:
                _last_readers.clear()
            _last_readers[remembered_as] = (circle_id, reader)
    body = f'{{"items":{items},"next_cursor":{json.dumps(next_cursor)}}}'
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    response.fast_lane_language = token["user_language"]  # for ``asyncfeed.seen``: the middleware's headers
    return response


def in_front_of(operation_view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """``operation_view`` (django-ninja's view of the path) with the fast lane tried first."""

    @functools.wraps(operation_view)  # keeps csrf_exempt and the rest of the view's attributes
    def view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        slug = kwargs.get("slug")
        response = feed_page(request, slug) if isinstance(slug, str) else None
        return response if response is not None else operation_view(request, *args, **kwargs)

    return view


def route(patterns: list, prefix: str = "api/") -> Any:
    """A root URL pattern for the fast lane, to put first in the root URLconf.

    It matches exactly the paths of django-ninja's ``list_posts`` route (found in ``patterns``, the
    API's flat list, and mounted at ``prefix``) and falls back to that route's view, so the page is
    found by one pattern rather than by walking the API's nested routes (~0.1 ms); reversing
    ``api:list_posts`` still gives the same URL. Refuses to start if the route is gone.
    """
    from django.urls import URLPattern, path

    for pattern in patterns:
        if isinstance(pattern, URLPattern) and pattern.name == ROUTE_NAME:
            return path(prefix + pattern.pattern._route, in_front_of(pattern.callback), pattern.default_args,
                        name=LANE_NAME)
    raise RuntimeError(f"the API has no {ROUTE_NAME!r} route to put the feed's fast lane in front of")
