"""Nest a flat list of URL routes by path segment, so resolving one tries a handful of patterns, not all.

django-ninja hands Django one flat list of ~130 ``path()`` routes for the whole API, and Django's
resolver tries them in order: ``POST /api/challenges/7/checkins`` ran ~120 regular expressions
(~0.4 ms, a fifth of a check-in's server time). Grouping routes that share a first segment under
``path("challenges/", include([...]))``, recursively, makes it a few per level.

Grouping never changes which route a path resolves to. At each level it is only done when the first
segments are all literals, or all the same converter: then two groups can never match the same path,
and a route ending at this level (no further ``/``) can never match a path that a group's route
matches. A ``<path:…>`` route (which matches anything) and everything after it stay flat and in order.
"""

from __future__ import annotations

from django.urls import URLPattern, include, path
from django.urls.resolvers import RoutePattern

MIN_GROUP = 4  # smaller groups stay flat: an include costs a regex of its own


def _route(pattern: URLPattern) -> str | None:
    return pattern.pattern._route if isinstance(pattern.pattern, RoutePattern) else None


def _with_route(pattern: URLPattern, route: str) -> URLPattern:
    return path(route, pattern.callback, pattern.default_args, name=pattern.name)


def nest_routes(patterns: list) -> list:
    """The same routes (same names, views and reversal), nested by segment where that is safe."""
    head_order: list[str] = []
    groups: dict[str, list[tuple[URLPattern, str]]] = {}
    items: list[object] = []  # a pattern kept flat, or the head of a group (str) at its first position
    tail: list = []
    for index, pattern in enumerate(patterns):
        route = _route(pattern)
        if route is None or "<path:" in route:
            tail = list(patterns[index:])  # order-sensitive from here on
            break
        head, slash, rest = route.partition("/")
        if not slash:
            items.append(pattern)
            continue
        if head not in groups:
            groups[head] = []
            head_order.append(head)
            items.append(head)
        groups[head].append((pattern, rest))

    converters = {h for h in head_order if "<" in h}
    if converters and (len(converters) > 1 or len(head_order) > 1) or any(">" in h and h[0] != "<" for h in head_order):
        return list(patterns)  # mixed literal/converter segments: order matters, keep it flat

    out: list = []
    for item in items:
        if not isinstance(item, str):
            out.append(item)
            continue
        members = groups[item]
        if len(members) < MIN_GROUP:
            out.extend(pattern for pattern, _rest in members)
        else:
            out.append(path(f"{item}/", include(nest_routes([_with_route(p, rest) for p, rest in members]))))
    return out + tail
